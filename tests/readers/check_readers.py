#!/usr/bin/env python3
"""Check that other tools read back exactly what SecretZero wrote.

Input: a JSON list (a file path as the only argument, or standard input) of checks:

    {"format": "dotenv" | "yaml" | "toml" | "json",
     "file": "path/to/written/file",
     "key": "TOP_LEVEL_KEY",
     "field": "optional nested field name",
     "expected_hex": "hex of the expected value's UTF-8 bytes"}

Readers: python-dotenv's dotenv_values (variable interpolation on, its default), PyYAML's
safe_load (a YAML 1.1 reader), tomllib (or tomli before Python 3.11), and the json module. A
check of any other format (tfvars) is reported as skipped. A dotenv file in which
python-dotenv cannot parse a statement fails every check on it: a value whose closing quote it
misses makes it read on into later lines, which can drop other keys while the checked one
still reads right.

Failures say where the value read differs, never the value itself. The versions of the
readers go to standard error. The last line of standard output is
"N passed, N failed, N skipped"; the exit code is 0 when nothing failed, 1 when a check
failed, 2 when the input or a reader is missing.
"""

import json
import logging
import sys
from importlib import metadata


def load_toml(data):
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    return tomllib.loads(data.decode("utf-8"))


class DotenvUnparsed(Exception):
    """python-dotenv skipped statements it could not parse."""


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def read_dotenv(path):
    from dotenv import dotenv_values

    # python-dotenv only logs a warning for a statement it cannot parse, then goes on.
    collect = _Collect()
    logger = logging.getLogger("dotenv.main")
    logger.addHandler(collect)
    try:
        values = dotenv_values(path)
    finally:
        logger.removeHandler(collect)
    unparsed = [m for m in collect.messages if "could not parse statement" in m]
    if unparsed:
        # The message names a line number, never file content.
        raise DotenvUnparsed(unparsed[0].rsplit(" ", 1)[-1])
    return values


def read_yaml(path):
    import yaml

    with open(path, "rb") as stream:
        return yaml.safe_load(stream)


def read_toml(path):
    with open(path, "rb") as stream:
        return load_toml(stream.read())


def read_json(path):
    with open(path, "rb") as stream:
        return json.loads(stream.read())


READERS = {
    "dotenv": ("python-dotenv", read_dotenv),
    "yaml": ("PyYAML", read_yaml),
    "toml": ("tomllib", read_toml),
    "json": ("json", read_json),
}


def describe_difference(found, expected):
    """Where two byte strings differ, without showing either."""
    if not isinstance(found, str):
        return f"read a value of type {type(found).__name__}, not a string"
    found = found.encode("utf-8")
    if len(found) != len(expected):
        return f"read {len(found)} bytes, expected {len(expected)}"
    first = next(i for i, (a, b) in enumerate(zip(found, expected)) if a != b)
    return f"differs from byte {first}"


def check(entry, cache):
    """Returns None when the reader gets the expected value, else the reason it does not."""
    reader_name, reader = READERS[entry["format"]]
    path = entry["file"]
    key = (reader_name, path)
    if key not in cache:
        try:
            cache[key] = ("ok", reader(path))
        except DotenvUnparsed as error:
            cache[key] = ("unparsed", str(error))
        except Exception as error:  # the reader's own error kind is the finding
            cache[key] = ("error", type(error).__name__)
    status, document = cache[key]
    if status == "error":
        return f"{reader_name} cannot read the file ({document})"
    if status == "unparsed":
        return f"{reader_name} cannot parse the statement starting at line {document}"
    if not isinstance(document, dict) or entry["key"] not in document:
        return f"{reader_name} finds no key {entry['key']!r}"
    found = document[entry["key"]]
    field = entry.get("field")
    if field is not None:
        if not isinstance(found, dict) or field not in found:
            return f"{reader_name} finds no field {field!r} under {entry['key']!r}"
        found = found[field]
    expected = bytes.fromhex(entry["expected_hex"])
    if isinstance(found, str) and found.encode("utf-8") == expected:
        return None
    return f"{reader_name}: {describe_difference(found, expected)}"


def main(argv):
    if len(argv) > 2:
        print("usage: check_readers.py [checks.json]", file=sys.stderr)
        return 2
    try:
        if len(argv) == 2 and argv[1] != "-":
            with open(argv[1], encoding="utf-8") as stream:
                entries = json.load(stream)
        else:
            entries = json.load(sys.stdin)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the list of checks: {error}", file=sys.stderr)
        return 2

    # A missing reader is a broken setup, not a failed check.
    for module, package in [("dotenv", "python-dotenv"), ("yaml", "pyyaml")]:
        try:
            __import__(module)
        except ModuleNotFoundError:
            print(f"error: the {package} package is not installed", file=sys.stderr)
            return 2

    versions = []
    for package in ["python-dotenv", "PyYAML"]:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (version unknown)")
    print(f"readers: {', '.join(versions)}, Python {sys.version.split()[0]}", file=sys.stderr)

    passed = failed = skipped = 0
    cache = {}
    for entry in entries:
        label = f"{entry['format']} {entry['file']} {entry['key']}"
        if entry.get("field") is not None:
            label += f".{entry['field']}"
        if entry["format"] not in READERS:
            print(f"skipped: {label}: no reader for this format")
            skipped += 1
            continue
        reason = check(entry, cache)
        if reason is None:
            passed += 1
        else:
            print(f"FAILED: {label}: {reason}")
            failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
