"""Every read path of the shop: querysets with their joins and their order decided here.

Views and serializers only iterate what these return, so no N+1 can creep in from a
serializer field, and a cache layer (shop/cache.py) can wrap any of them by its arguments.
Lists are returned ordered by the keys the API's keyset pagination pages on; each ordering
ends in the primary key, so every row has a unique position.

The shopper-facing reads start from `_read(Model)`: a replica's rows while a shopper's
read-only request is served and a replica has replayed what it must, the primary's otherwise
(core/routing.py decides; the reports and staff reads stay on the primary).
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import CharField, Count, F, FloatField, Func, Prefetch, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from core import routing
from shop.errors import ErrorCode, ShopError
from shop.models import (
    Category,
    Order,
    OrderItem,
    Product,
    User,
    UserProfile,
)


def _read(model) -> QuerySet:
    """All rows of `model`, on the server core/routing.py picks for this read."""
    return model.objects.using(routing.read_alias())


# --------------------------------------------------------------------------- catalogue


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    children: list["CategoryNode"] = field(default_factory=list)


def category_tree() -> list[CategoryNode]:
    """The whole category tree, top-level categories first, siblings by name: one query."""
    nodes: dict[int, CategoryNode] = {}
    parents: dict[int, int | None] = {}
    by_name = Func("name", function="shop_natural_key")  # "Fiction 9" before "Fiction 10"
    for id_, name, slug, parent_id in (
        _read(Category).order_by(by_name, "id").values_list("id", "name", "slug", "parent_id")
    ):
        nodes[id_] = CategoryNode(id=id_, name=name, slug=slug)
        parents[id_] = parent_id
    roots = []
    for id_, node in nodes.items():  # dicts keep insertion order: children stay by name
        parent_id = parents[id_]
        (roots if parent_id is None else nodes[parent_id].children).append(node)
    return roots


# Each category's names from its root down, as sort keys in which numbers compare as people
# read them (shop_natural_key, migration 0017): ordering by it lists the tree depth-first,
# each category under its parent. Correlated: one primary-key lookup per level and row, for a tree
# that is small and shallow. depth < 100 stops a cycle the trigger would have refused.
CATEGORY_TREE_PATH_SQL = """(
    WITH RECURSIVE up(id, parent_id, name, depth) AS (
        SELECT c.id, c.parent_id, c.name, 0 FROM shop_category c WHERE c.id = shop_category.id
        UNION ALL
        SELECT c.id, c.parent_id, c.name, up.depth + 1
          FROM shop_category c JOIN up ON c.id = up.parent_id
         WHERE up.depth < 100
    )
    SELECT array_agg(shop_natural_key(name) ORDER BY depth DESC) FROM up
)"""


def with_tree_path(queryset: QuerySet[Category]) -> QuerySet[Category]:
    """The categories with `tree_path`: their names from the root down (the admin's tree)."""
    path = RawSQL(CATEGORY_TREE_PATH_SQL, [], output_field=ArrayField(CharField()))  # noqa: S611
    return queryset.annotate(tree_path=path)


# A category and all its descendants, walked in the database (one subquery of the product
# query, no extra round trip). The tree is small (dozens to hundreds of rows) and its
# recursive step is an index lookup on parent_id (shop_category_sibling_name_uniq leads
# with it), so walking it per query costs microseconds; a materialised path column would
# need a trigger to rewrite a whole subtree whenever a category moves. UNION (not UNION ALL)
# stops even if a cycle ever slipped past the shop_category_parent_not_a_descendant trigger.
CATEGORY_SUBTREE_SQL = """
    WITH RECURSIVE subtree(id) AS (
        SELECT id FROM shop_category WHERE id = %s
        UNION
        SELECT c.id FROM shop_category c JOIN subtree s ON c.parent_id = s.id
    )
    SELECT id FROM subtree
"""

# Orderings the catalogue offers: name -> the keyset columns, primary key last.
PRODUCT_ORDERINGS = {
    "newest": ("-created_at", "-id"),  # shop_product_active_newest_idx
    "price": ("price", "id"),  # shop_product_act_price_id_idx
    "-price": ("-price", "-id"),  # the same index, read backwards
    "relevance": ("-rank", "-id"),  # ts_rank of the search; needs q
}


def product_list(
    *,
    category_id: int | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    tags: list[str] | None = None,
    in_stock: bool | None = None,
    q: str | None = None,
    ordering: str | None = None,
) -> QuerySet[Product]:
    """Active products, filtered, with their category; relevance order when searching.

    `q` is a web-search style query (`walnut desk`, `"oak table"`, `chair -office`) matched
    against the stored search_vector through its GIN index and ranked by ts_rank.
    """
    queryset = (
        _read(Product)
        .filter(is_active=True)
        .select_related("category")
        .defer("search_vector", "category__created_at", "category__updated_at")
    )
    if category_id is not None:
        subtree = RawSQL(CATEGORY_SUBTREE_SQL, (category_id,))  # noqa: S611 (a bound parameter)
        queryset = queryset.filter(category_id__in=subtree)
    if min_price is not None:
        queryset = queryset.filter(price__gte=min_price)
    if max_price is not None:
        queryset = queryset.filter(price__lte=max_price)
    if tags:
        queryset = queryset.filter(tags__contains=tags)  # tags @> ARRAY[...]: the GIN index
    if in_stock is not None:
        queryset = (
            queryset.filter(stock_quantity__gt=0) if in_stock else queryset.filter(stock_quantity=0)
        )
    if q:
        query = SearchQuery(q, search_type="websearch", config="english")
        # ts_rank is a float4; as float8 its value survives a round trip through JSON exactly,
        # which a keyset cursor on (rank, id) needs to find its place again.
        queryset = queryset.filter(search_vector=query).annotate(
            rank=Cast(SearchRank(F("search_vector"), query), FloatField())
        )
    if ordering is None:
        ordering = "relevance" if q else "newest"
    if ordering == "relevance" and not q:
        raise ShopError(
            ErrorCode.INVALID,
            "Ordering by relevance needs a search (q).",
            fields={"ordering": ["Ordering by relevance needs a search (q)."]},
        )
    return queryset.order_by(*PRODUCT_ORDERINGS[ordering])


def product_get(*, product_id: int) -> Product:
    """An active product with its category; inactive ones do not exist for shoppers."""
    try:
        return (
            _read(Product)
            .select_related("category")
            .defer("search_vector", "category__created_at", "category__updated_at")
            .get(pk=product_id, is_active=True)
        )
    except Product.DoesNotExist:
        raise ShopError(ErrorCode.NOT_FOUND, "No such product.") from None


# --------------------------------------------------------------------------- orders


def order_list_for_user(*, user_id: int, status: str | None = None) -> QuerySet[Order]:
    """A shopper's orders, newest first (shop_order_user_created_idx), without items."""
    queryset = _read(Order).filter(user_id=user_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def orders_open() -> QuerySet[Order]:
    """Staff's work queue: pending and processing orders, oldest first, with their customer.

    Read in order from the partial index shop_order_open_created_idx, which holds only open
    orders: its size follows the queue, not the whole history.
    """
    return (
        Order.objects.filter(status__in=Order.OPEN_STATUSES)
        .select_related("user")
        .only("id", "status", "total_amount", "created_at", "user__id", "user__username")
        .order_by("created_at", "id")
    )


def _with_items(queryset: QuerySet[Order]) -> QuerySet[Order]:
    items = OrderItem.objects.select_related("product").only(
        "id", "order_id", "quantity", "unit_price", "subtotal", "product__id", "product__name"
    )
    # A plain list in order.item_list (to_attr): services.order_create fills the same
    # attribute from the rows it inserted, so a new order renders without a read back.
    return queryset.prefetch_related(
        Prefetch("items", queryset=items.order_by("id"), to_attr="item_list")
    )


def order_get(*, order_id: int, user_id: int | None = None) -> Order:
    """One order with its items (two queries). With user_id, only that shopper's order:
    anyone else's is "not found", not "forbidden", so order ids reveal nothing."""
    orders = _read(Order)
    queryset = orders if user_id is None else orders.filter(user_id=user_id)
    try:
        return _with_items(queryset).get(pk=order_id)
    except Order.DoesNotExist:
        raise ShopError(ErrorCode.NOT_FOUND, "No such order.") from None


# --------------------------------------------------------------------------- reports
# Cancelled orders earned nothing: every report counts Order.EARNING_STATUSES only.


def top_spenders(*, since: datetime, min_orders: int = 5, limit: int = 20) -> QuerySet[User]:
    """Users with more than min_orders earning orders since `since`, biggest spenders first.

    One query: the filter on orders and the aggregates share one join (filter() before
    annotate()), so only orders in the window are counted and summed. The window is read by
    shop_order_created_brin; users without such orders are not rows at all (an inner join,
    on purpose: docs/query-patterns.md).
    """
    return (
        User.objects.filter(
            orders__created_at__gte=since, orders__status__in=Order.EARNING_STATUSES
        )
        .annotate(order_count=Count("orders"), spent=Sum("orders__total_amount"))
        .filter(order_count__gt=min_orders)
        .only("id", "username")
        .order_by("-spent", "id")[:limit]
    )


def daily_revenue_rows(*, first: date, last: date) -> QuerySet:
    """{"day", "orders", "revenue"} per UTC day that has earning orders (daily_revenue's query)."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return (
        Order.objects.filter(
            created_at__gte=start, created_at__lt=end, status__in=Order.EARNING_STATUSES
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(orders=Count("id"), revenue=Sum("total_amount"))
        .order_by("day")
    )


@dataclass(frozen=True)
class DailyRevenue:
    day: date
    orders: int
    revenue: Decimal


def daily_revenue(*, first: date, last: date) -> list[DailyRevenue]:
    """Earning orders and revenue per UTC day from first to last inclusive, every day listed.

    One query grouped by day over shop_order_created_brin; days without orders are filled in
    with zeros here (a GROUP BY has no row for a day nobody ordered on).
    """
    found = {row["day"]: row for row in daily_revenue_rows(first=first, last=last)}
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [
        DailyRevenue(
            day=day,
            orders=found[day]["orders"] if day in found else 0,
            revenue=found[day]["revenue"] if day in found else Decimal("0.00"),
        )
        for day in days
    ]


LOW_STOCK = 5  # a product on sale with this many or fewer left is running out


def products_low_stock(*, limit: int = 10) -> QuerySet[Product]:
    """Active products with LOW_STOCK or fewer left, the fewest first: staff's restocking list.

    No index of its own: one on stock_quantity would make every checkout's stock decrement
    update it too and forbid HOT updates of the product row; a scan of the products for the
    admin's home page costs less than that.
    """
    return (
        Product.objects.filter(is_active=True, stock_quantity__lte=LOW_STOCK)
        .only("id", "name", "stock_quantity")
        .order_by("stock_quantity", "id")[:limit]
    )


# --------------------------------------------------------------------------- accounts


def profile_get(*, user: User) -> UserProfile:
    """The user's profile; a blank, unsaved one for users who never filled it in."""
    try:
        return _read(UserProfile).get(user_id=user.pk)
    except UserProfile.DoesNotExist:
        return UserProfile(user_id=user.pk)


# --------------------------------------------------------------------------- ETags
# Strong validators for If-Match. Orders and products carry a trigger-bumped version; users
# and profiles have none, so theirs is a digest of exactly the fields the API can change
# (the ETag then changes only when the representation does).

USER_ETAG_FIELDS = ("username", "email")
PROFILE_ETAG_FIELDS = ("first_name", "last_name", "phone", "bio", "avatar_url")


def _digest_etag(kind: str, instance, fields: tuple[str, ...]) -> str:
    payload = json.dumps([getattr(instance, name) for name in fields])
    return f'"{kind}-{hashlib.sha256(payload.encode()).hexdigest()[:32]}"'


def user_etag(user: User) -> str:
    return _digest_etag("user", user, USER_ETAG_FIELDS)


def profile_etag(profile: UserProfile) -> str:
    return _digest_etag("profile", profile, PROFILE_ETAG_FIELDS)


def order_etag(order: Order) -> str:
    return f'"order-{order.pk}-v{order.version}"'


def popular_product_ids(*, days: int, limit: int) -> list[int]:
    """The active products with the most units sold in the last `days` days (cancelled
    orders left out), most first; ties by id so the choice is stable."""
    since = timezone.now() - timedelta(days=days)
    return list(
        OrderItem.objects.filter(
            order__created_at__gte=since,
            order__status__in=Order.EARNING_STATUSES,
            product__is_active=True,
        )
        .values("product")
        .annotate(units=Sum("quantity"))
        .order_by("-units", "product")
        .values_list("product", flat=True)[:limit]
    )
