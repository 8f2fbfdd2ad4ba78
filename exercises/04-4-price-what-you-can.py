"""Chapter 4, exercise 4: price what you can.

Write `total_of_valid(order)`: price every item concurrently, skip the items that
fail with a line saying why, and return the total of the rest.
Check it with: python exercises/check.py 04-4
"""

import asyncio

PRICES = {"apple": 0.5, "bread": 2.0}


async def price_of(item, quantity):
    count = int(quantity)  # a ValueError for a quantity such as "ten"
    unit_price = PRICES[item]  # a KeyError for an item that is not for sale
    await asyncio.sleep(0.01)  # stands in for checking the stock
    return unit_price * count


async def total_of_valid(order):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    order = [("apple", "ten"), ("unicorn", "1"), ("bread", "1"), ("apple", "2")]
    print(asyncio.run(total_of_valid(order)))
