"""Chapter 19, exercise 2: parse a line with match.

Write `parse(line)`: ("say", text) for a plain line (the text as typed),
("join", room), ("leave", room) or ("leave", None) for /leave alone, ("quit",),
("help",) for any other line that starts with /, and None for an empty line.
Check it with: python exercises/check.py 19-2
"""

lines = [
    "hello there",
    "  /join   kitchen ",
    "/leave",
    "/leave kitchen",
    "/quit",
    "/join",
    "/frobnicate now",
    "   ",
    "/quit now",
]


def parse(line):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    for line in lines:
        print(repr(line), "->", parse(line))
