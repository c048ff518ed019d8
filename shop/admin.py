"""The staff UI for the shop: users and profiles, the catalogue, orders (read-mostly).

Every page's "History" button shows the object's audit history (core.admin.HistoryAdminMixin,
whose page audit/admin.py provides): every change recorded by the database's triggers, not only
the admin's own.

Every changelist decides its joins up front (list_select_related), so its query count does not
depend on the number of rows shown; tests/shop/test_admin.py holds each page to an exact
budget. Foreign keys to big tables use raw-id inputs (a <select> of 100k users would load
them all); small ones use autocomplete. The big tables' changelists count at most 1,001 rows
(core.admin.CappedCountAdminMixin): an exact count below that, "1,000+" past it.

Orders are financial records: staff move an order along its workflow and correct its
shipping address or its customer, nothing else. Items, totals and versions are read-only,
orders are neither added nor deleted here, and the rules the database enforces by trigger
are checked by the form first (shop/forms.py), so breaking one is a form error, never an
IntegrityError.

The admin is a client of the services (shop/services.py), as the API is: every save, delete
and action calls one, which takes the locks (shop/locks.py), writes only the fields the form
changed, and invalidates the cache entries the write makes stale. Nothing here writes a
model or touches the cache itself.
"""

import re

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from core.admin import (
    CappedCountAdminMixin,
    DatabaseFilledMixin,
    HistoryAdminMixin,
    ReadOnlyMixin,
)
from shop import locks, selectors, services
from shop.errors import ShopError
from shop.forms import (
    ADDRESS_FIELDS,
    CategoryAdminForm,
    OrderAdminForm,
    ProductAdminForm,
    UserChangeForm,
    UserCreationForm,
)
from shop.models import (
    Category,
    Order,
    OrderItem,
    Product,
    User,
    UserProfile,
)

# Django 6 makes https the scheme assumed for a URL typed without one; have it now.
URL_HTTPS = {models.URLField: {"assume_scheme": "https"}}


def _changes(form, *, exclude: tuple[str, ...] = ()) -> dict:
    """The fields the staff member changed, with their cleaned values: what a service writes."""
    return {name: form.cleaned_data[name] for name in form.changed_data if name not in exclude}


def _number(search_term: str) -> int | None:
    """The search term as an id ("1234" or "#1234"), or None when it is not one."""
    term = search_term.strip().removeprefix("#")
    return int(term) if term.isascii() and term.isdigit() else None


# A search term that uses websearch syntax (a quoted phrase, "or", a leading "-") is read as
# websearch_to_tsquery reads it; plain words are each matched as a prefix.
WEBSEARCH_SYNTAX = re.compile(r'"|(^|\s)-|\sor\s', re.IGNORECASE)


def product_search(search_term: str) -> SearchQuery:
    """The tsquery of a staff search of products, served by shop_product_search_gin.

    Plain words match as prefixes, all of them: "struct desk" is to_tsquery('english',
    'struct:* & desk:*'), which finds "structure" (stemmed "structur"). Each word is stemmed
    before it is matched as a prefix, so a cut inside the stem's own ending can miss ("runni"
    is not a prefix of "run"). Quotes, "or" and "-word" keep websearch's meaning.

    PostgreSQL cannot estimate a prefix tsquery's rows (it assumes 1,000 of 50,000): for a
    prefix few products have, the changelist may walk the primary key backwards and test each
    row (17 ms over 50,000 products for "struct", which none had; 0.2 ms for "wal"), where the
    GIN index would answer at once. Both are within the page's budget at that size.
    """
    if WEBSEARCH_SYNTAX.search(search_term):
        return SearchQuery(search_term, config="english", search_type="websearch")
    words = re.findall(r"\w+", search_term)  # letters and digits only: nothing tsquery parses
    return SearchQuery(" & ".join(f"{w}:*" for w in words), config="english", search_type="raw")


# --------------------------------------------------------------------------- users


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    fields = ("first_name", "last_name", "phone", "avatar_url", "bio", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = URL_HTTPS
    extra = 1  # a user without a profile gets a blank one to fill in (saved only if filled)


@admin.register(User)
class UserAdmin(CappedCountAdminMixin, HistoryAdminMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    inlines = (UserProfileInline,)

    def save_formset(self, request, form, formset, change):
        """The profile inline, through the profile services (formset.save() would write the
        row itself). The formset's new/changed/deleted_objects, which model formsets set on
        save() and the admin's change message reads, are set here the same way."""
        if formset.model is not UserProfile:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for profile_form in formset.forms:
            adding = profile_form in formset.extra_forms
            if profile_form in formset.deleted_forms:
                if not adding:
                    services.profile_delete(user_ids=[form.instance.pk])
                    formset.deleted_objects.append(profile_form.instance)
                continue
            changes = _changes(profile_form, exclude=("DELETE",))
            if not changes:
                continue
            profile = services.profile_update(user=form.instance, if_match=None, **changes)
            if adding:
                formset.new_objects.append(profile)
            else:
                formset.changed_objects.append((profile, list(changes)))
        return None

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Account", {"fields": ("email", "status")}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "member_of",  # groups, see UserChangeForm
                    "granted_permissions",  # user_permissions, likewise
                )
            },
        ),
        ("Important dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "created_at", "updated_at")
    list_display = ("username", "email", "status", "is_staff", "is_active", "created_at")
    list_filter = ("status", "is_staff", "is_superuser", "is_active", "groups")
    # The start of a username or an e-mail address, any case: see get_search_results.
    search_fields = ("username",)
    search_help_text = "The start of a username or of an e-mail address, in any case."
    ordering = ("username",)  # the username UNIQUE index serves the sort and its LIMIT
    show_facets = admin.ShowFacets.NEVER  # big table: no per-filter counts
    filter_horizontal = ()  # the form's own widgets; the model fields are not in the form

    def get_search_results(self, request, queryset, search_term):
        """lower(username) or lower(email) LIKE 'term%': a BitmapOr of two text_pattern_ops
        indexes (shop_user_username_prefix_idx, the e-mail's UNIQUE shop_user_email_ci_uniq),
        where a substring search would read all 100,000 users on every keystroke."""
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        return queryset.alias(username_ci=Lower("username"), email_ci=Lower("email")).filter(
            Q(username_ci__startswith=term) | Q(email_ci__startswith=term)
        ), False

    def get_inlines(self, request, obj):
        # Like Django's UserAdmin, the add page asks only for the login; the profile
        # follows on the change page it redirects to.
        return self.inlines if obj is not None else ()


@admin.register(UserProfile)
class UserProfileAdmin(
    CappedCountAdminMixin, DatabaseFilledMixin, HistoryAdminMixin, admin.ModelAdmin
):
    list_display = ("user", "first_name", "last_name", "phone", "updated_at")
    list_select_related = ("user",)
    list_filter = ("user__status", "user__is_staff")
    search_fields = ("user__username", "user__email", "first_name", "last_name", "phone")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = URL_HTTPS
    ordering = ("-pk",)  # newest users first, by the primary key's index

    def save_model(self, request, obj, form, change):
        services.profile_update(user=obj.user, if_match=None, **_changes(form, exclude=("user",)))

    def delete_model(self, request, obj):
        services.profile_delete(user_ids=[obj.user_id])

    def delete_queryset(self, request, queryset):
        services.profile_delete(user_ids=list(queryset.values_list("user_id", flat=True)))

    show_facets = admin.ShowFacets.NEVER  # one profile per user: as big as the users table

    def get_queryset(self, request):
        # The change page shows the (read-only) user as a link: join it there too.
        return super().get_queryset(request).select_related("user")

    def get_readonly_fields(self, request, obj=None):
        # The user is the profile's primary key: "moving" a profile would copy it to
        # another user instead. Chosen once, on the add page.
        readonly = super().get_readonly_fields(request, obj)
        return ("user", *readonly) if obj is not None else readonly


# --------------------------------------------------------------------------- catalogue


class CategoryLevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return (("top", "Top level"), ("sub", "Subcategory"))

    def queryset(self, request, queryset):
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class CategoryTreeChangeList(ChangeList):
    """The categories as a tree, depth-first (selectors.with_tree_path), unless staff sort by
    a column; the primary key breaks a tie ("Fiction 2" and "Fiction 02" sort alike)."""

    def get_ordering(self, request, queryset):
        if ORDER_VAR in self.params:
            return super().get_ordering(request, queryset)
        return ["tree_path", "pk"]


@admin.register(Category)
class CategoryAdmin(DatabaseFilledMixin, HistoryAdminMixin, admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("tree_name", "slug", "parent", "updated_at")
    list_select_related = ("parent",)
    list_filter = (CategoryLevelFilter,)
    search_fields = ("name", "slug")  # also what the parent/category autocompletes search
    autocomplete_fields = ("parent",)
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    ordering = ("name",)  # autocompletes and filters; the changelist shows the tree

    def get_queryset(self, request):
        return selectors.with_tree_path(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return CategoryTreeChangeList

    @admin.display(description="name", ordering="tree_path")
    def tree_name(self, category):
        """The name, indented by its depth in the tree."""
        depth = len(category.tree_path) - 1
        return format_html(
            '<span class="category-depth-{}" style="padding-left: {}em">{}{}</span>',
            depth,
            1.5 * depth,
            "└ " if depth else "",
            category.name,
        )

    def save_model(self, request, obj, form, change):
        if change:
            services.category_update(category_id=obj.pk, **_changes(form))
        else:
            obj.pk = services.category_create(**form.cleaned_data).pk

    def delete_model(self, request, obj):
        services.category_delete(category_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.category_delete(category_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Product)
class ProductAdmin(CappedCountAdminMixin, DatabaseFilledMixin, HistoryAdminMixin, admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ("name", "category", "price", "stock_quantity", "is_active", "updated_at")
    list_select_related = ("category",)
    list_filter = ("is_active", "category")
    # Searched in full text, not with icontains: see get_search_results.
    search_fields = ("search_vector",)
    search_help_text = (
        "Words of names and descriptions, or their beginnings, English stemming: "
        '"walnut desk", "struct", "desk -oak", "desk or table".'
    )
    autocomplete_fields = ("category",)
    # The search vector is the database's copy of name and description: not shown.
    exclude = ("search_vector",)
    readonly_fields = ("version", "created_at", "updated_at")
    ordering = ("-pk",)  # newest first, by the primary key's index (name has none: no sort)
    show_facets = admin.ShowFacets.NEVER
    actions = ("deactivate",)

    delete_confirmation_template = "admin/shop/product/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/shop/product/delete_selected_confirmation.html"

    def get_search_results(self, request, queryset, search_term):
        """search_vector @@ the term's tsquery (product_search): the GIN index's query."""
        if not search_term.strip():
            return queryset, False
        return queryset.filter(search_vector=product_search(search_term)), False

    def get_deleted_objects(self, objs, request):
        """A product that was ordered stays in its orders (the items' FK is PROTECT): instead
        of Django's "no permission to delete order item", the page names the products that
        were ordered and offers to deactivate them (the templates above). One query."""
        ids = [obj.pk for obj in objs]
        ordered = (
            Product.objects.filter(pk__in=ids, order_items__isnull=False)
            .annotate(lines=Count("order_items"))
            .order_by("name", "pk")
            .values_list("name", "lines")
        )
        protected = [
            ngettext("%(name)s: in %(n)d order", "%(name)s: in %(n)d orders", n)
            % {"name": name, "n": n}
            for name, n in ordered
        ]
        if protected:
            return [], {}, set(), protected
        return super().get_deleted_objects(objs, request)

    def save_model(self, request, obj, form, change):
        # Only the changed fields (the stock only when staff changed it: ProductAdminForm).
        if change:
            services.product_update(product_id=obj.pk, **_changes(form))
        else:
            obj.pk = services.product_create(**form.cleaned_data).pk

    def delete_model(self, request, obj):
        services.product_delete(product_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.product_delete(product_ids=list(queryset.values_list("pk", flat=True)))

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request, queryset):
        count = services.product_deactivate(product_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("Deactivated %d product.", "Deactivated %d products.", count) % count,
            messages.SUCCESS,
        )


# --------------------------------------------------------------------------- orders


class OrderItemInline(ReadOnlyMixin, admin.TabularInline):
    """The order's lines, read-only: total_amount must equal their sum (checked at COMMIT)."""

    model = OrderItem
    fields = ("product", "quantity", "unit_price", "subtotal")
    readonly_fields = fields
    verbose_name = "line"
    ordering = ("pk",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Order)
class OrderAdmin(CappedCountAdminMixin, HistoryAdminMixin, admin.ModelAdmin):
    form = OrderAdminForm
    inlines = (OrderItemInline,)
    list_display = ("id", "user", "status", "total_amount", "created_at")
    list_select_related = ("user",)
    list_filter = ("status", "created_at")
    # Exact matches only, each on an index: the customer's username or e-mail (see
    # get_search_results), or an order number.
    search_fields = ("=user__username",)
    search_help_text = "An order number, or the customer's username or e-mail, exactly."
    raw_id_fields = ("user",)
    fieldsets = (
        (None, {"fields": ("user", "status", "total_amount", "created_at", "updated_at")}),
        ("Shipping address", {"fields": tuple(ADDRESS_FIELDS)}),
    )
    # version is the ETag's counter, bumped by trigger: nothing staff need to read.
    readonly_fields = ("total_amount", "created_at", "updated_at")
    ordering = ("-pk",)  # newest first, by the primary key's index
    show_facets = admin.ShowFacets.NEVER
    change_form_template = "admin/shop/order/change_form.html"
    history_parts = {OrderItem: "order"}  # its History shows its lines' changes too
    actions = ("mark_processing", "mark_shipped", "mark_delivered", "mark_cancelled")
    # Refusals reported one message per order, up to this many (then one line for the rest).
    REFUSALS_SHOWN = 10

    def get_urls(self):
        # POST /admin/shop/order/<id>/move/<status>/: the change page's workflow buttons.
        view = self.admin_site.admin_view(self.move_view)
        return [
            path("<int:order_id>/move/<str:status>/", view, name="shop_order_move"),
            *super().get_urls(),
        ]

    def move_view(self, request, order_id, status):
        """One order one step along its workflow (services.order_transition), then back to its
        page with what happened: a refused move is a message, never a 500."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = get_object_or_404(Order, pk=order_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        self._move(request, [order.pk], status)
        return HttpResponseRedirect(reverse("admin:shop_order_change", args=[order.pk]))

    def _move(self, request, order_ids: list[int], status: str) -> None:
        moved, refused = 0, []
        for order_id in order_ids:
            try:
                services.order_transition(order_id=order_id, status=status)
            except ShopError as error:
                refused.append(error.message)
            else:
                moved += 1
        if moved:
            self.message_user(
                request,
                ngettext("%(n)d order is now %(s)s.", "%(n)d orders are now %(s)s.", moved)
                % {"n": moved, "s": status},
                messages.SUCCESS,
            )
        for message in refused[: self.REFUSALS_SHOWN]:
            self.message_user(request, message, messages.ERROR)
        if len(refused) > self.REFUSALS_SHOWN:
            rest = len(refused) - self.REFUSALS_SHOWN
            self.message_user(
                request,
                ngettext("%d more order was refused.", "%d more orders were refused.", rest) % rest,
                messages.ERROR,
            )

    def _bulk_move(self, request, queryset, status):
        self._move(request, list(queryset.order_by("pk").values_list("pk", flat=True)), status)

    @admin.action(description="Mark selected orders processing", permissions=["change"])
    def mark_processing(self, request, queryset):
        self._bulk_move(request, queryset, Order.Status.PROCESSING)

    @admin.action(description="Mark selected orders shipped", permissions=["change"])
    def mark_shipped(self, request, queryset):
        self._bulk_move(request, queryset, Order.Status.SHIPPED)

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def mark_delivered(self, request, queryset):
        self._bulk_move(request, queryset, Order.Status.DELIVERED)

    @admin.action(description="Cancel selected orders (stock goes back)", permissions=["change"])
    def mark_cancelled(self, request, queryset):
        self._bulk_move(request, queryset, Order.Status.CANCELLED)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The workflow buttons: one per status the order can move to next.
        if obj is not None and self.has_change_permission(request, obj):
            context["next_statuses"] = [
                (status, reverse("admin:shop_order_move", args=[obj.pk, status]))
                for status in Order.TRANSITIONS[obj.status]
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_add_permission(self, request):
        return False  # orders are placed by shoppers, through the API

    def has_delete_permission(self, request, obj=None):
        return False  # financial records: cancel instead

    def get_search_results(self, request, queryset, search_term):
        """Orders of the user with that username or e-mail, or the order with that number.

        A subquery, not a join: `user_id IN (one or two users)` reads
        shop_order_user_created_idx, where an OR across the join would scan every order.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        customers = (
            User.objects.alias(email_ci=Lower("email"))
            .filter(Q(username=term) | Q(email_ci=term.lower()))
            .values("pk")
        )
        condition = Q(user__in=customers)
        number = _number(term)
        if number is not None:
            condition |= Q(pk=number)
        return queryset.filter(condition), False

    def get_object(self, request, object_id, from_field=None):
        """On POST, the order row is locked (shop/locks.py) before the form sees it.

        The status choices are built from the status read here; without the lock, another
        writer could move the order between that read and our UPDATE, and the transition
        trigger would answer the now-illegal move with an IntegrityError (a 500). The change
        view's POST runs in transaction.atomic(), which the lock lasts for.
        """
        if request.method != "POST":
            return super().get_object(request, object_id, from_field)
        queryset = locks.orders_for_update(self.get_queryset(request))
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (Order.DoesNotExist, ValidationError, ValueError):
            return None

    def save_model(self, request, obj, form, change):
        # Through the services, as the staff API does, and only what staff changed: total_amount
        # and version are never written back from a possibly stale form, an unchanged status
        # does not reach the trigger, and cancelling puts the stock back.
        changes = _changes(form)
        if "status" in changes:
            services.order_transition(order_id=obj.pk, status=changes.pop("status"))
        if changes:
            services.order_update(
                order_id=obj.pk,
                owner=None,
                if_match=None,
                shipping_address=changes.get("shipping_address"),
                customer=changes.get("user"),
            )


@admin.register(OrderItem)
class OrderItemAdmin(CappedCountAdminMixin, HistoryAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "order", "product", "quantity", "unit_price", "subtotal")
    list_select_related = ("order", "product")
    list_filter = ("order__status",)
    # The product's words or their beginnings (product_search: its GIN index, then the items'
    # product_id index), or an order number. No substring search over 50,000 product names.
    search_fields = ("product__search_vector",)
    search_help_text = "An order number, or words of the product's name or description."
    # Newest orders first, each order's lines together: the items' (order_id, product_id)
    # index walks backwards beside the orders' primary key (a merge join), so filtering by
    # the order's status reads orders in sequence instead of looking one up per item.
    ordering = ("-order_id", "-pk")
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        # The view page shows the order and the product as links: join them here too.
        return super().get_queryset(request).select_related("order", "product")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        results = queryset.filter(product__search_vector=product_search(search_term))
        number = _number(search_term)
        if number is not None:
            results |= queryset.filter(order_id=number)
        return results, False
