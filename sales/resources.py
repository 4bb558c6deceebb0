"""Opportunities as table rows: what the import pages, the pipeline export and the admin read and write.

An opportunity is found by its id (from an export), else by its external reference;
a row with neither is a new opportunity. The import keeps the pipeline's rules
(`sales.services`): every stage change is recorded, a won opportunity gets its
order, a lost one needs its reason, a closed one never moves again, a probability
given in the file is a hand-set one that stage moves keep.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export.fields import Field

from core.roles import Role
from core.transfer.resources import MomentField, chunked
from core.transfer.widgets import DateTimeWidget, DateWidget, DecimalWidget, IntegerWidget, LookupWidget, TextWidget
from crm.models import Customer
from crm.resources import CustomerLookups, text_cells
from sales.models import Opportunity, Order, Product, Stage, StageChange
from sales.services import AMOUNT_MAX, CLOCK_SKEW, FIRST_STAGE_CODE, REASON_MAX


class ManualProbabilityField(Field):
    """`probability`: a value is set by hand (stage moves keep it); empty means the stage's default."""

    def get_value(self, instance):
        return instance.probability if instance.probability_manual else None

    def save(self, instance, row, is_m2m=False, **kwargs):
        cleaned = self.clean(row, **kwargs)
        if cleaned is None:
            instance.probability_manual = False
        else:
            instance.probability = cleaned
            instance.probability_manual = True


class OpportunityResource(CustomerLookups):
    id = Field(attribute="id", column_name="id", widget=IntegerWidget(min_value=1), readonly=True)
    external_ref = Field(attribute="external_ref", column_name="external_ref", widget=TextWidget(blank_as_none=True))
    customer = Field(
        attribute="customer", column_name="customer", widget=LookupWidget(Customer, "code", "find_customer")
    )
    customer_name = Field(attribute="customer__name", column_name="customer_name", widget=TextWidget(), readonly=True)
    owner = Field(
        attribute="owner", column_name="owner", widget=LookupWidget(get_user_model(), "username", "find_owner")
    )
    product = Field(attribute="product", column_name="product", widget=LookupWidget(Product, "name", "find_product"))
    stage = Field(attribute="stage", column_name="stage", widget=LookupWidget(Stage, "code", "find_stage"))
    amount = Field(
        attribute="amount",
        column_name="amount",
        widget=DecimalWidget(places=2, min_value=0, max_value=AMOUNT_MAX),
        saves_null_values=False,
    )
    probability = ManualProbabilityField(
        attribute="probability", column_name="probability", widget=DecimalWidget(places=3, min_value=0, max_value=1)
    )
    expected_close = Field(attribute="expected_close", column_name="expected_close", widget=DateWidget())
    opened_at = MomentField(
        attribute="opened_at", column_name="opened_at", widget=DateTimeWidget(), saves_null_values=False
    )
    closed_at = MomentField(attribute="closed_at", column_name="closed_at", widget=DateTimeWidget())
    lost_reason = Field(attribute="lost_reason", column_name="lost_reason", widget=TextWidget())

    scope_perm = "sales.add_opportunity"
    key_only_columns = ("id",)
    export_related = ("customer", "owner", "product", "stage")
    # Like the pages: an opportunity belongs to a rep or a manager (a manager's own deals).
    owner_groups = (Role.REP.value, Role.MANAGER.value)

    class Meta:
        model = Opportunity
        fields = (
            "id",
            "external_ref",
            "customer",
            "customer_name",
            "owner",
            "product",
            "stage",
            "amount",
            "probability",
            "expected_close",
            "opened_at",
            "closed_at",
            "lost_reason",
        )
        import_id_fields = ["id"]  # the default: no "id" column required (get_instance decides)
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        clean_model_instances = True

    @staticmethod
    def column_help() -> list[tuple[str, str]]:
        return [
            ("id", _("From an export: says which opportunity to update. Empty for a new one.")),
            ("external_ref", _("Its id in another system: a row with a known reference updates that opportunity.")),
            ("customer", _("The customer's code; empty for a lead. The customer must be the owner's.")),
            ("customer_name", _("Export only.")),
            ("owner", _("The owner's username; a manager can name themself and the reps of their teams.")),
            ("product", _("The product's name.")),
            ("stage", _("The stage's code or name (empty: Discovery for a new opportunity).")),
            ("amount", _("A number of 0 or more, with a dot for decimals.")),
            ("probability", _("A fraction from 0 to 1 set by hand (0.25 = 25%); empty: the stage's default.")),
            ("expected_close", _("A date, YYYY-MM-DD.")),
            ("opened_at, closed_at", _("YYYY-MM-DD HH:MM in the site's time zone. Only won or lost ones are closed.")),
            ("lost_reason", _("Required for a lost opportunity.")),
        ]

    # --- lookups ----------------------------------------------------------------------------

    def preload(self, dataset) -> None:
        super().preload(dataset)
        self.customers.preload(text_cells(dataset, "customer"))
        self.products = {product.name.lower(): product for product in Product.objects.all()}
        self.stages: dict[str, Stage] = {}
        for stage in Stage.objects.all():
            self.stages[stage.name.lower()] = stage
            self.stages[stage.code.lower()] = stage  # a code wins over another stage's name
        for stage in set(self.stages.values()):
            self.stages.setdefault(str(getattr(stage, "label", stage.name)).lower(), stage)  # the user's language
        related = ("customer", "owner", "product", "stage")
        self.by_id: dict[int, Opportunity] = {}
        if "id" in (dataset.headers or []):
            ids = set()
            for value in dataset["id"]:
                try:
                    ids.add(self.fields["id"].widget.clean(value))
                except ValueError:
                    continue  # the row itself reports it
            for chunk in chunked(sorted(pk for pk in ids if pk)):
                self.by_id.update((o.pk, o) for o in Opportunity.objects.filter(pk__in=chunk).select_related(*related))
        self.by_ref: dict[str, Opportunity] = {}
        for chunk in chunked(sorted({ref for ref in text_cells(dataset, "external_ref") if ref})):
            self.by_ref.update(
                (o.external_ref, o) for o in Opportunity.objects.filter(external_ref__in=chunk).select_related(*related)
            )

    def find_product(self, name: str) -> Product:
        product = self.products.get(name.lower())
        if product is None:
            raise ValueError(_("No product named “%(name)s”.") % {"name": name})
        return product

    def find_stage(self, key: str) -> Stage:
        stage = self.stages.get(key.lower())
        if stage is None:
            known = ", ".join(sorted({stage.code for stage in self.stages.values()}))
            raise ValueError(_("No stage “%(key)s”: use one of %(known)s.") % {"key": key, "known": known})
        return stage

    # --- rows -------------------------------------------------------------------------------

    def get_instance(self, instance_loader, row):
        if (pk_cell := self.cell(row, "id")) is not None:
            try:
                pk = self.fields["id"].widget.clean(pk_cell)
            except ValueError as error:
                raise ValidationError({"id": str(error)}) from None
            self.claim_key("id", pk)
            opportunity = self.by_id.get(pk)
            if opportunity is None or not self.scope.owns(opportunity.owner_id):
                raise ValidationError(
                    {"id": _("No opportunity with id %(id)s among the opportunities you may see.") % {"id": pk}}
                )
            self.claim_record("id", opportunity)
            return opportunity
        ref = self.fields["external_ref"].clean(row) if "external_ref" in row else None
        if not ref:
            return None
        self.claim_key("external_ref", ref)
        opportunity = self.by_ref.get(ref)
        if opportunity is not None and not self.scope.owns(opportunity.owner_id):
            raise ValidationError(
                {
                    "external_ref": _("The reference “%(ref)s” is already used by an opportunity you may not change.")
                    % {"ref": ref}
                }
            )
        if opportunity is not None:
            self.claim_record("external_ref", opportunity)
        return opportunity

    def init_instance(self, row=None):
        # A new opportunity opens at the import's moment unless the file says when.
        return Opportunity(opened_at=self.now)

    def after_init_instance(self, instance, new, row, **kwargs):
        self._before = (
            None
            if new
            else Opportunity(
                pk=instance.pk,
                stage=instance.stage,
                customer_id=instance.customer_id,
                owner_id=instance.owner_id,
                product_id=instance.product_id,
                probability=instance.probability,
                probability_manual=instance.probability_manual,
            )
        )

    def import_instance(self, instance, row, **kwargs):
        try:
            super().import_instance(instance, row, **kwargs)
        finally:
            # What the pipeline's services would set: the stage's default probability unless set by
            # hand, Discovery for a new deal without a stage, a close moment for a deal closed now.
            if self._before is None and instance.stage_id is None and self.cell(row, "stage") is None:
                instance.stage = self.stages.get(FIRST_STAGE_CODE)
            stage = instance.stage if instance.stage_id else None
            if stage is not None and not instance.probability_manual:
                instance.probability = stage.default_probability
            moved = stage is not None and (self._before is None or self._before.stage_id != stage.pk)
            if moved and stage.is_terminal and instance.closed_at is None:
                instance.closed_at = self.now

    def check_instance(self, instance, *, failed: set[str]) -> dict[str, str]:
        errors: dict[str, str] = {}
        before = self._before
        stage = instance.stage if instance.stage_id and "stage" not in failed else None
        moved = stage is not None and (before is None or before.stage_id != stage.pk)
        if moved and before is not None and before.stage.is_terminal:
            errors["stage"] = _(
                "This opportunity is closed as %(stage)s: a closed opportunity cannot change stage."
            ) % {"stage": before.stage.label}
        elif moved and stage.is_won and before is not None and Order.objects.filter(opportunity_id=before.pk).exists():
            errors["stage"] = _("This opportunity already has an order.")
        ref = instance.external_ref
        if ref and "external_ref" not in failed and (other := self.by_ref.get(ref)) and other.pk != instance.pk:
            errors["external_ref"] = _("The reference “%(ref)s” is already used by another opportunity.") % {"ref": ref}
        if stage is not None and stage.is_lost and not instance.lost_reason.strip() and "lost_reason" not in failed:
            errors["lost_reason"] = _("Say why the opportunity was lost.")
        if len(instance.lost_reason) > REASON_MAX and "lost_reason" not in failed:
            errors["lost_reason"] = _("The reason has at most %(max)d characters (this one has %(n)d).") % {
                "max": REASON_MAX,
                "n": len(instance.lost_reason),
            }
        if "stage" not in errors:  # a refused move says enough about this row's dates
            errors.update(self._check_moments(instance, stage=stage, moved=moved, failed=failed))
        if (
            stage is not None
            and not moved
            and before is not None
            and before.stage.is_terminal
            and (instance.probability_manual, instance.probability) != (before.probability_manual, before.probability)
            and "probability" not in failed
        ):
            errors["probability"] = _("A closed opportunity keeps its probability.")
        product = instance.product if instance.product_id and "product" not in failed else None
        if product is not None and not product.active and (before is None or before.product_id != product.pk):
            errors["product"] = _("%(product)s is no longer sold: choose an active product.") % {"product": product}
        customer = instance.customer if instance.customer_id and "customer" not in failed else None
        if (
            customer is not None
            and instance.owner_id
            and "owner" not in failed
            and customer.owner_id != instance.owner_id
            and (before is None or (before.customer_id, before.owner_id) != (instance.customer_id, instance.owner_id))
        ):
            errors["customer"] = _("%(customer)s belongs to another rep: choose one of %(owner)s's customers.") % {
                "customer": customer.code,
                "owner": instance.owner.username,
            }
        return errors

    def _check_moments(self, instance, *, stage, moved: bool, failed: set[str]) -> dict[str, str]:
        errors = {}
        latest = self.now + CLOCK_SKEW
        for name in ("opened_at", "closed_at"):
            moment = getattr(instance, name)
            if name not in failed and moment is not None and moment > latest:
                errors[name] = _("%(moment)s is in the future.") % {"moment": _moment(moment)}
        if "closed_at" in failed or "closed_at" in errors or instance.closed_at is None:
            return errors
        if stage is not None and not stage.is_terminal:
            errors["closed_at"] = _("Only a won or lost opportunity has a close date: leave it empty for an open one.")
        elif instance.opened_at and instance.closed_at < instance.opened_at and "opened_at" not in failed:
            errors["closed_at"] = _("The close date is before the opening (%(opened)s).") % {
                "opened": _moment(instance.opened_at)
            }
        elif moved and self._before is not None:
            last = StageChange.objects.filter(opportunity_id=self._before.pk).aggregate(last=Max("changed_at"))["last"]
            if last is not None and instance.closed_at < last:
                errors["closed_at"] = _("The close date is before the opportunity's last stage change (%(last)s).") % {
                    "last": _moment(last)
                }
        return errors

    def after_save_instance(self, instance, row, **kwargs):
        before = self._before
        if before is not None and before.stage_id == instance.stage_id:
            return
        at = instance.closed_at if instance.stage.is_terminal else (self.now if before else instance.opened_at)
        StageChange.objects.create(
            opportunity=instance,
            from_stage_id=before.stage_id if before else None,
            to_stage=instance.stage,
            changed_at=at,
            changed_by=self.user,
        )
        if instance.stage.is_won:
            Order.objects.create(opportunity=instance, amount=instance.amount, ordered_at=at)
            self.note(_("An order of %(amount)s is created for this won opportunity.") % {"amount": instance.amount})

    def describe_row(self, row) -> str:
        parts = [self.cell(row, "external_ref"), self.cell(row, "customer")]
        if (pk := self.cell(row, "id")) is not None:
            parts.insert(0, f"#{pk}")
        return " · ".join(str(part) for part in parts if part)


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
