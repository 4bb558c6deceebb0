"""Word lists and places the demo generator draws from.

The demo is fictitious: company names are built from syllables, people's names
from common European first/last names. Cities and towns are real, with their
real coordinates, so maps and travel distances look plausible.
"""

import numpy as np


def pick(rng: np.random.Generator, words: list[str] | np.ndarray, size: int) -> np.ndarray:
    """`size` random words as an object array: its elements share the word strings, cheap at 10^6 rows."""
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size=size)]


# Team regions: (team name, city, country, latitude, longitude, phone prefix, towns nearby).
# Towns are (name, latitude, longitude); a customer takes the name of its nearest town.
REGIONS = [
    (
        "Paris",
        "Paris",
        "France",
        48.8566,
        2.3522,
        "+33 1",
        [
            ("Paris", 48.8566, 2.3522),
            ("Boulogne-Billancourt", 48.8397, 2.2399),
            ("Saint-Denis", 48.9362, 2.3574),
            ("Versailles", 48.8049, 2.1204),
            ("Créteil", 48.7904, 2.4556),
            ("Argenteuil", 48.9472, 2.2467),
            ("Nanterre", 48.8924, 2.2071),
            ("Évry-Courcouronnes", 48.6239, 2.4294),
        ],
    ),
    (
        "Berlin",
        "Berlin",
        "Germany",
        52.5200,
        13.4050,
        "+49 30",
        [
            ("Berlin", 52.5200, 13.4050),
            ("Potsdam", 52.3906, 13.0645),
            ("Spandau", 52.5352, 13.1975),
            ("Köpenick", 52.4455, 13.5740),
            ("Oranienburg", 52.7545, 13.2369),
            ("Bernau bei Berlin", 52.6795, 13.5874),
            ("Königs Wusterhausen", 52.2967, 13.6250),
        ],
    ),
    (
        "Milan",
        "Milan",
        "Italy",
        45.4642,
        9.1900,
        "+39 02",
        [
            ("Milano", 45.4642, 9.1900),
            ("Monza", 45.5845, 9.2744),
            ("Sesto San Giovanni", 45.5376, 9.2342),
            ("Rho", 45.5283, 9.0403),
            ("Legnano", 45.5962, 8.9153),
            ("Pavia", 45.1847, 9.1582),
            ("Lodi", 45.3097, 9.5037),
        ],
    ),
    (
        "Madrid",
        "Madrid",
        "Spain",
        40.4168,
        -3.7038,
        "+34 91",
        [
            ("Madrid", 40.4168, -3.7038),
            ("Alcalá de Henares", 40.4818, -3.3643),
            ("Getafe", 40.3083, -3.7327),
            ("Móstoles", 40.3223, -3.8650),
            ("Alcobendas", 40.5475, -3.6420),
            ("Leganés", 40.3272, -3.7635),
            ("Las Rozas", 40.4928, -3.8737),
        ],
    ),
    (
        "Lyon",
        "Lyon",
        "France",
        45.7640,
        4.8357,
        "+33 4",
        [
            ("Lyon", 45.7640, 4.8357),
            ("Villeurbanne", 45.7719, 4.8902),
            ("Vénissieux", 45.6973, 4.8867),
            ("Vienne", 45.5256, 4.8740),
            ("Villefranche-sur-Saône", 45.9898, 4.7186),
            ("Bourgoin-Jallieu", 45.5869, 5.2739),
        ],
    ),
    (
        "Munich",
        "Munich",
        "Germany",
        48.1351,
        11.5820,
        "+49 89",
        [
            ("München", 48.1351, 11.5820),
            ("Freising", 48.4029, 11.7488),
            ("Dachau", 48.2603, 11.4342),
            ("Erding", 48.3064, 11.9076),
            ("Starnberg", 47.9990, 11.3390),
            ("Fürstenfeldbruck", 48.1790, 11.2550),
            ("Rosenheim", 47.8571, 12.1181),
        ],
    ),
]

STREETS = {
    "France": ["Rue de la République", "Avenue Jean Jaurès", "Rue Victor Hugo", "Boulevard Voltaire", "Rue Pasteur"],
    "Germany": ["Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gartenstraße", "Schillerstraße"],
    "Italy": ["Via Roma", "Via Garibaldi", "Via Mazzini", "Corso Italia", "Via Dante"],
    "Spain": ["Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de la Castellana", "Calle Alcalá"],
}

LEGAL_FORMS = {
    "France": ["SA", "SAS", "SARL"],
    "Germany": ["GmbH", "AG", "KG"],
    "Italy": ["S.p.A.", "S.r.l.", "S.r.l."],
    "Spain": ["S.A.", "S.L.", "S.L."],
}

# Company names: two or three syllables, then a trade word, then the legal form.
NAME_SYLLABLES = [
    "al", "ber", "cor", "da", "el", "fa", "gen", "hal", "in", "ka", "lum", "mar", "nor", "or", "pra",
    "quin", "ro", "sil", "tek", "ul", "ver", "vol", "xan", "zen", "bra", "cen", "del", "fin", "gra", "lex",
]  # fmt: skip
TRADE_WORDS = [
    "Systems", "Logistics", "Foods", "Medical", "Industries", "Solutions", "Retail", "Pharma", "Energy",
    "Construction", "Automotive", "Textiles", "Labs", "Distribution", "Engineering", "Hospitality",
]  # fmt: skip

SEGMENTS = [
    "Retail", "Healthcare", "Manufacturing", "Hospitality", "Construction",
    "Food & Beverage", "Automotive", "Public sector", "Logistics", "Education",
]  # fmt: skip

FIRST_NAMES = [
    "Anna", "Luca", "Sophie", "Jonas", "Marie", "Paul", "Elena", "Marco", "Laura", "David", "Clara", "Hugo",
    "Lena", "Pablo", "Giulia", "Felix", "Emma", "Lucas", "Sara", "Thomas", "Chloé", "Max", "Lucía", "Noah",
]  # fmt: skip
LAST_NAMES = [
    "Martin", "Müller", "Rossi", "García", "Bernard", "Schmidt", "Russo", "Fernández", "Dubois", "Schneider",
    "Ferrari", "López", "Moreau", "Fischer", "Bianchi", "Martínez", "Laurent", "Weber", "Romano", "Sánchez",
]  # fmt: skip
# ASCII forms of the names above for e-mail addresses, in the same order.
FIRST_NAMES_ASCII = [
    "anna", "luca", "sophie", "jonas", "marie", "paul", "elena", "marco", "laura", "david", "clara", "hugo",
    "lena", "pablo", "giulia", "felix", "emma", "lucas", "sara", "thomas", "chloe", "max", "lucia", "noah",
]  # fmt: skip
LAST_NAMES_ASCII = [
    "martin", "mueller", "rossi", "garcia", "bernard", "schmidt", "russo", "fernandez", "dubois", "schneider",
    "ferrari", "lopez", "moreau", "fischer", "bianchi", "martinez", "laurent", "weber", "romano", "sanchez",
]  # fmt: skip

JOB_TITLES = [
    "Purchasing Manager", "Operations Director", "CEO", "Store Manager", "Head of Procurement",
    "Facility Manager", "CFO", "Plant Manager", "Office Manager", "Buyer",
]  # fmt: skip

# Product catalogue: (name, series, list price).
PRODUCTS = [
    ("FieldPro Scanner S1", "FieldPro", 890),
    ("FieldPro Scanner S2", "FieldPro", 1490),
    ("FieldPro Tablet T10", "FieldPro", 2350),
    ("CoolLine Cabinet 200", "CoolLine", 4200),
    ("CoolLine Cabinet 400", "CoolLine", 7800),
    ("Service Plan Basic", "Service", 600),
    ("Service Plan Premium", "Service", 2400),
    ("Install Kit Pro", "Accessories", 320),
]

VISIT_GOALS = [
    "Quarterly business review", "Product demonstration", "Contract renewal", "Relationship check-in",
    "Resolve a service issue", "Present the new catalogue", "Negotiate volume pricing", "Site survey",
]  # fmt: skip
VISIT_AGENDAS = [
    "", "Review last order; discuss next quarter's needs.", "Demo, pricing, next steps.",
    "Walk the site with the facility manager.", "Open issues, service levels, renewal date.",
]  # fmt: skip
REPORT_OPENINGS = [
    "Met the purchasing team.", "Good meeting with the owner.", "Short visit, the manager was busy.",
    "Productive session with operations.", "Visited the site and the warehouse.",
]  # fmt: skip
REPORT_FINDINGS = [
    "They are happy with delivery times.", "Prices are under pressure from a competitor.",
    "A new branch opens next quarter.", "Service quality was questioned.", "Budget is approved for this year.",
    "They want a faster response from support.",
]  # fmt: skip
REPORT_NEXT_STEPS = [
    "Send a quote this week.", "Schedule a demo with the team.", "Follow up on the open ticket.",
    "Call back after their board meeting.",
]  # fmt: skip
CANCEL_REASONS = [
    "Customer asked to reschedule", "Rep unwell", "Customer site closed", "Traffic / travel disruption",
    "Double booking", "Urgent visit elsewhere",
]  # fmt: skip
NEED_DESCRIPTIONS = [
    "Faster delivery on repeat orders", "Training for new staff", "Spare parts kept on site",
    "Better payment terms", "Extended warranty", "Integration with their ordering system",
    "A second unit for the new branch", "Quarterly maintenance visit", "Energy-saving model",
    "Consolidated monthly invoice",
]  # fmt: skip
FOLLOW_UP_TITLES = [
    "Send the quote", "Share the product brochure", "Book a technician", "Check the delivery date",
    "Answer the pricing question", "Introduce the service manager", "Send the meeting notes",
]  # fmt: skip
LOST_REASONS = [
    "Price too high", "Chose a competitor", "No budget this year", "Project cancelled", "No decision made",
]  # fmt: skip
