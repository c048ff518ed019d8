"""The seed's entry point: which path, what is refused, and the cache afterwards (see
shop/seeding/__init__.py)."""

from shop import cache
from shop.models import Category, Order, Product, User
from shop.seeding.bulk import BulkSeeder
from shop.seeding.small import SmallSeeder

# From this many orders on, the factories' per-row work and bulk_create's INSERTs are the
# slow part, and the fast path takes over (docs/performance.md).
FAST_THRESHOLD = 50_000


class Refused(Exception):
    """The load would duplicate or break what is in the database; nothing was written."""


def load(
    *,
    users: int,
    categories: int,
    products: int,
    orders: int,
    seed: int,
    batch_size: int | None = None,
    fast: bool = False,
    progress: bool = False,
) -> dict:
    """Write the demo rows and return their counts ({"users": ..., "orders": ..., and on the
    fast path "items" and "seconds"}). Raises Refused, or bulk.NotOwner, before writing."""
    _refuse_to_duplicate(users=users, categories=categories, products=products)
    if orders and not (users or User.objects.exists()):
        raise Refused("--orders needs users: pass --users > 0")
    if products and not (categories or Category.objects.exists()):
        raise Refused("--products needs categories: pass --categories > 0")
    if orders and not (products or Product.objects.exists()):
        raise Refused("--orders needs products: pass --products > 0")
    sizes = {"users": users, "categories": categories, "products": products, "orders": orders}
    if fast or orders >= FAST_THRESHOLD:
        seeder = BulkSeeder(seed=seed, batch=batch_size or 100_000, progress=progress)
    else:
        seeder = SmallSeeder(seed=seed, batch=batch_size or 2000, progress=progress)
    counts = seeder.run(**sizes)
    cache.invalidate_everything()  # after COMMIT: every entry, list page and the tree retired
    return counts


def _refuse_to_duplicate(*, users: int, categories: int, products: int) -> None:
    """On a database that has a catalogue or orders, new categories (whose top-level names are
    fixed) and products would collide with or duplicate the ones there, and new users are
    numbered from a count that need not be the last number. Orders alone are added to what
    is there; anything else is refused."""
    existing = {
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "orders": Order.objects.count(),
    }
    adds = {"users": users, "categories": categories, "products": products}
    if not any(existing.values()) or not any(adds.values()):
        return
    has = ", ".join(f"{count} {name}" for name, count in existing.items())
    raise Refused(
        f"the database already has shop data ({has}); pass --if-empty to do nothing "
        "when it has, or --users 0 --categories 0 --products 0 to add only orders to it"
    )
