"""Demo data generator: `demo_seed` writes a realistic, deterministic data set (NumPy + bulk SQL)."""

from crm.demo.people import demo_logins
from crm.demo.seeding import DemoDataExists, demo_seed

__all__ = ["DemoDataExists", "demo_logins", "demo_seed"]
