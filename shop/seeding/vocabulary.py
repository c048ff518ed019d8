"""What demo data looks like, written once for both seed paths (small.py builds rows in Python,
bulk.py generates them inside PostgreSQL): the words rows are made of, and the sizes and mixes
that make a plausible shop. Change a number here and both paths follow."""

from decimal import Decimal

from shop.models import Order

TOP_CATEGORIES = ["Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Office", "Outdoor"]
# Each top-level category's subcategories, in the order the seed hands them out.
SUBCATEGORIES = {
    "Books": ["Fiction", "History", "Science", "Poetry", "Travel", "Cookery"],
    "Music": ["Jazz", "Classical", "Folk", "Rock", "Vinyl", "Instruments"],
    "Garden": ["Tools", "Seeds", "Planters", "Furniture", "Lighting", "Watering"],
    "Kitchen": ["Cookware", "Knives", "Tableware", "Storage", "Baking", "Coffee"],
    "Toys": ["Puzzles", "Board games", "Building sets", "Dolls", "Outdoor play", "Craft"],
    "Sports": ["Running", "Cycling", "Swimming", "Tennis", "Yoga", "Climbing"],
    "Office": ["Desks", "Chairs", "Stationery", "Lamps", "Storage", "Paper"],
    "Outdoor": ["Tents", "Backpacks", "Sleeping bags", "Stoves", "Lights", "Maps"],
}
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman"]
# A buyer always ships to the same address, one per name the profiles draw from.
ADDRESS_NAMES = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
ADJECTIVES = ["walnut", "oak", "steel", "linen", "ceramic", "bamboo", "copper", "wool", "glass"]
NOUNS = ["desk", "lamp", "chair", "mug", "kettle", "shelf", "rug", "clock", "vase", "table"]
WORDS = ["sturdy", "handmade", "classic", "compact", "durable", "light", "modern", "quiet"]
DESCRIPTION_WORDS = 12  # a product's description: this many of WORDS, ADJECTIVES and NOUNS
TAGS = ["new", "sale", "eco", "gift", "bestseller", "limited"]  # a product has two of them
COLOURS = ["blue", "red", "green"]

MIN_PRICE, MAX_PRICE = Decimal("1.00"), Decimal("500.00")
MAX_STOCK = 200  # units in stock: 0 to MAX_STOCK
INACTIVE_SHARE = 0.05  # hidden products: the admin's "inactive" filter has rows to find

HISTORY_DAYS = 90  # orders are spread over the last HISTORY_DAYS days
MAX_LINES = 5  # items per order: 1 to MAX_LINES, distinct products
MAX_QUANTITY = 3  # units per item: 1 to MAX_QUANTITY

# Percent of orders in each state, one share for every state of Order.Status (a test holds
# them to it): most orders of a running shop have long been delivered.
STATUS_MIX = {
    Order.Status.DELIVERED: 70,
    Order.Status.SHIPPED: 10,
    Order.Status.PROCESSING: 8,
    Order.Status.PENDING: 7,
    Order.Status.CANCELLED: 5,
}


def category_plan(total: int) -> list[tuple[str, str, int | None]]:
    """The seed's `total` categories as (name, slug, index of the parent in this list).

    The top-level ones first (slug "books"), then subcategories dealt round the top-level
    ones in turn ("Fiction", slug "books-fiction"); past the vocabulary's names a subcategory
    is numbered ("Fiction 2", "books-fiction-2"). Names are unique among siblings and slugs
    everywhere, as the constraints want.
    """
    tops = TOP_CATEGORIES[: min(total, len(TOP_CATEGORIES))]
    plan: list[tuple[str, str, int | None]] = [(name, name.lower(), None) for name in tops]
    for n in range(total - len(tops)):
        parent = n % len(tops)
        names = SUBCATEGORIES[tops[parent]]
        turn = n // len(tops)
        base = names[turn % len(names)]
        name = base if turn < len(names) else f"{base} {turn // len(names) + 1}"
        slug = f"{tops[parent]}-{name}".lower().replace(" ", "-")
        plan.append((name, slug, parent))
    return plan
