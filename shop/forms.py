"""Admin forms: where the staff UI turns a database rule into a form error instead of a 500.

ModelForm already runs every CheckConstraint and UniqueConstraint of the model (full_clean's
validate_constraints), with the constraint's violation_error_message. What it cannot see is a
rule that lives in a trigger (the order status workflow) or a rule of the input's shape (the
shipping address, shop/validators.py, the same rules the API applies): those are spelled out
here, next to the form that needs them.
"""

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.models import Group, Permission
from django.utils.functional import cached_property

from shop.models import Category, Order, Product, User
from shop.validators import (
    COUNTRY_CODE_MESSAGE,
    SHIPPING_ADDRESS_MAX_LENGTHS,
    SHIPPING_ADDRESS_OPTIONAL,
    error_messages,
    shipping_address_clean,
)


class EmailNormalizingMixin:
    """Lower-cases the e-mail's domain, as UserManager.create_user does."""

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class UserCreationForm(EmailNormalizingMixin, auth_forms.AdminUserCreationForm):
    """Django's admin add-user form (password1/password2, or no usable password) for shop.User.

    The e-mail is asked for up front: it is NOT NULL, and its case-insensitive uniqueness
    (shop_user_email_ci_uniq) is checked by the model's constraint validation.
    """

    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class UserChangeForm(EmailNormalizingMixin, auth_forms.UserChangeForm):
    """Django's change-user form: the password is shown as its read-only hash summary.

    User.groups and User.user_permissions go through explicit join tables (shop.UserGroup,
    shop.UserPermission), and the admin refuses such many-to-many fields in a form
    (admin.E013). So the form carries the same two multiple selects under other names and
    saves them with .set(), which the join tables allow (they have no extra columns).
    """

    member_of = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        label="Groups",
        widget=FilteredSelectMultiple("groups", is_stacked=False),
        help_text="The user gets every permission granted to each of these groups.",
    )
    granted_permissions = forms.ModelMultipleChoiceField(
        # Permission.__str__ names its content type: join it, or one query per option.
        queryset=Permission.objects.select_related("content_type"),
        required=False,
        label="User permissions",
        widget=FilteredSelectMultiple("user permissions", is_stacked=False),
        help_text="Specific permissions for this user, on top of their groups'.",
    )

    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = (
            "username",
            "password",
            "email",
            "status",
            "is_active",
            "is_staff",
            "is_superuser",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            # status has a db_default but no Python default, so Django offers a blank
            # "---------" choice that could only ever fail validation.
            self.fields["status"].choices = User.Status.choices
        if self.instance.pk is not None:
            user = self.instance
            self.fields["member_of"].initial = list(user.groups.values_list("pk", flat=True))
            self.fields["granted_permissions"].initial = list(
                user.user_permissions.values_list("pk", flat=True)
            )

    def _save_m2m(self):
        super()._save_m2m()
        if "member_of" in self.changed_data:
            self.instance.groups.set(self.cleaned_data["member_of"])
        if "granted_permissions" in self.changed_data:
            self.instance.user_permissions.set(self.cleaned_data["granted_permissions"])


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("name", "slug", "parent")

    def clean_parent(self):
        """Refuse a parent that is the category itself or one of its descendants.

        The database refuses only the first (shop_category_not_own_parent); a longer loop
        would make the tree unwalkable. One query per level: catalogue trees are shallow.
        """
        parent = self.cleaned_data["parent"]
        if parent is None or self.instance.pk is None:
            return parent
        seen, ancestor = set(), parent
        while ancestor is not None and ancestor.pk not in seen:
            if ancestor.pk == self.instance.pk:
                raise forms.ValidationError(
                    "A category cannot be placed under itself or one of its subcategories.",
                    code="category_cycle",
                )
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        return parent


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = "__all__"  # noqa: DJ007 -- the admin's fieldsets choose the fields
        # Django's form IntegerField adds its own min_value check (from the model validator)
        # with a generic message; say what the CHECK constraint says instead.
        error_messages = {"stock_quantity": {"min_value": "Stock cannot be negative."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stock = self.fields.get("stock_quantity")
        if stock is not None:
            # The page posts back the stock it showed, so the stock counts as changed only if
            # staff changed it: checkouts take stock between the page's GET and its POST, and
            # an untouched field must not write the number shown back over theirs.
            stock.show_hidden_initial = True


def status_workflow(current: str) -> str:
    """The status field's help: where the order can go from `current`, and the whole workflow,
    both read from Order.TRANSITIONS (the table the status trigger is generated from)."""
    nexts = Order.TRANSITIONS[current]
    where = f"Next: {' or '.join(nexts)}." if nexts else f"{current.capitalize()} is final."
    steps = "; ".join(
        f"{status} → {', '.join(moves)}" for status, moves in Order.TRANSITIONS.items() if moves
    )
    return f"{where} The workflow: {steps}. Cancelling puts the stock back."


# The address form's fields, one per key of the stored JSON object, in the validator's order.
ADDRESS_LABELS = {
    "name": "Recipient",
    "line1": "Address line 1",
    "line2": "Address line 2",
    "city": "City",
    "postal_code": "Postal code",
    "country": "Country",
}
ADDRESS_FIELDS = {f"address_{key}": key for key in SHIPPING_ADDRESS_MAX_LENGTHS}


def _address_field(key: str) -> forms.CharField:
    """One key of the address. No max_length or required check of the form's own: the
    validator's rules and words, shared with the API, are the only ones (OrderAdminForm.clean);
    the browser is told the limits so that it can say them first."""
    return forms.CharField(
        label=ADDRESS_LABELS[key],
        required=False,
        help_text=COUNTRY_CODE_MESSAGE if key == "country" else "",
        widget=forms.TextInput(
            attrs={
                "maxlength": SHIPPING_ADDRESS_MAX_LENGTHS[key],
                "required": key not in SHIPPING_ADDRESS_OPTIONAL,
            }
        ),
    )


class OrderAdminForm(forms.ModelForm):
    """Status limited to the legal next steps; the shipping address as one field per key,
    checked as the API checks it (validators.shipping_address_clean) and saved as one object."""

    class Meta:
        model = Order
        fields = ("user", "status")

    address_name = _address_field("name")
    address_line1 = _address_field("line1")
    address_line2 = _address_field("line2")
    address_city = _address_field("city")
    address_postal_code = _address_field("postal_code")
    address_country = _address_field("country")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        address = self.instance.shipping_address or {}
        for name, key in ADDRESS_FIELDS.items():
            if name in self.fields:
                self.fields[name].initial = address.get(key, "")
        status = self.fields.get("status")
        if status is not None and self.instance.pk is not None:
            # The current status (no change) and Order.TRANSITIONS' next steps, the same
            # workflow the shop_order_status_transition trigger enforces. Anything else
            # posted fails ChoiceField validation ("Select a valid choice") before any UPDATE.
            current = self.instance.status
            allowed = {current, *Order.TRANSITIONS[current]}
            status.choices = [(value, label) for value, label in status.choices if value in allowed]
            status.help_text = status_workflow(current)

    @cached_property
    def changed_data(self):
        """The changed fields, the address fields reported as one: "shipping_address"."""
        changed = super().changed_data
        kept = [name for name in changed if name not in ADDRESS_FIELDS]
        return kept + ["shipping_address"] if len(kept) < len(changed) else kept

    def clean(self):
        """The address as stored, through the rules the API and services.order_update apply;
        each message is shown beside the field it is about."""
        cleaned = super().clean()
        if self.instance.pk is None or "shipping_address" not in self.changed_data:
            return cleaned
        if any(name in self.errors for name in ADDRESS_FIELDS):
            return cleaned  # a field's own check (a NUL) has said it: once is enough
        address = {key: cleaned.get(name, "") for name, key in ADDRESS_FIELDS.items()}
        try:
            cleaned["shipping_address"] = shipping_address_clean(address)
        except forms.ValidationError as error:
            messages = error_messages(error)
            if not isinstance(messages, dict):  # only a non-object fails without a key
                raise
            for key, texts in messages.items():
                self.add_error(f"address_{key}", texts)
        return cleaned
