"""Chapter 2, exercise 4: translate from JavaScript.

This line-by-line translation runs the downloads one after the other. Change
`main` so that both start before either ends, like the JavaScript.
Check it with: python exercises/check.py 02-4
"""

import asyncio


async def download(number):
    print("start", number)
    await asyncio.sleep(0.01)
    print("end", number)
    return number * 100


async def main():
    first = download(1)
    second = download(2)
    print(await first + await second)


if __name__ == "__main__":
    asyncio.run(main())
