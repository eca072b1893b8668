#!/usr/bin/env python3
"""rpyc-stubgen: a TypeScript interface for a Python RPyC service, for effect-rpyc's typed remotes.

    python3 rpyc_stubgen.py module:ClassName [--out FILE] [--name InterfaceName]
    python3 rpyc_stubgen.py path/to/file.py:ClassName ...

Imports the module (with the current directory, and for a file path the file's directory, on
sys.path), reads the class's exposed members (names starting with ``exposed_``) and their type hints,
and writes an interface whose members keep the prefix, as ``Client.connect<Api>()`` expects: methods
``exposed_add(a: number, b: number): number``, attributes ``readonly exposed_name: string``.

Values RPyC copies (None, bool, int, float, str, bytes, tuples) map to TypeScript values; everything
else (lists, dicts, sets, instances of classes, callables) travels by reference and maps to
``Remote``. Keyword-only parameters and ``**kwargs`` become a trailing optional ``Kwargs``.

Only the standard library is used (inspect, typing, importlib, argparse). Usage errors exit 2,
failures (the module cannot be imported, the class is missing) print one line and exit 1.
"""

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import types
import typing

PROG = "rpyc-stubgen"
PREFIX = "exposed_"

# TypeScript's reserved words: a Python parameter so named gets a trailing underscore
TS_RESERVED = frozenset(
    """break case catch class const continue debugger default delete do else enum export extends
    false finally for function if import in instanceof new null return super switch this throw true
    try typeof var void while with implements interface let package private protected public static
    yield await arguments eval""".split()
)


class Failure(Exception):
    """A failure reported as one line; `code` is the exit status."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------------
# loading the class


def load_class(target):
    """The class named by `module:Class` or `path/to/file.py:Class` (Class may be dotted)."""
    module_part, sep, class_part = target.rpartition(":")
    if not sep or not module_part or not class_part:
        raise Failure(f"expected module:ClassName or path/to/file.py:ClassName (got {target!r})", 2)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    # whatever the module prints while it is imported must not end up in the stub on stdout
    with contextlib.redirect_stdout(sys.stderr):
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            module = import_file(module_part)
        else:
            module = import_module(module_part)
    obj = module
    for name in class_part.split("."):
        if not hasattr(obj, name):
            raise Failure(f"{module_part} has no attribute {class_part!r}")
        obj = getattr(obj, name)
    if not inspect.isclass(obj):
        raise Failure(f"{module_part}:{class_part} is not a class (it is {type(obj).__name__})")
    return obj


def import_file(path):
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise Failure(f"no such file: {path}")
    folder = os.path.dirname(full)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(full))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise Failure(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the module's own failure, reported in one line
        raise Failure(f"cannot import {path}: {type(error).__name__}: {error}") from error
    return module


def import_module(name):
    try:
        return importlib.import_module(name)
    except Exception as error:
        raise Failure(f"cannot import module {name!r}: {type(error).__name__}: {error}") from error


# ------------------------------------------------------------------------------------------------
# Python types to TypeScript types


class Emitter:
    """Maps annotations to TypeScript and remembers which names the stub imports."""

    def __init__(self):
        self.imports = set()

    def remote(self):
        self.imports.add("Remote")
        return "Remote"

    def kwargs(self):
        self.imports.add("Kwargs")
        return "Kwargs"

    def ts(self, hint):
        if hint is inspect.Parameter.empty or hint is inspect.Signature.empty or hint is typing.Any:
            return "any"
        if hint is None or hint is type(None):
            return "null"
        if isinstance(hint, str):
            return "any"  # a forward reference that could not be resolved
        if isinstance(hint, typing.TypeVar):
            return "any"
        supertype = getattr(hint, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            return self.ts(supertype)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Annotated:
            return self.ts(args[0])
        if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
            return self.union([self.ts(a) for a in args])
        if origin is typing.Literal:
            return self.union([literal(a) for a in args])
        if origin is tuple or hint is tuple or hint is typing.Tuple:
            return self.tuple(args)
        if origin is not None and is_awaitable_origin(origin):
            # Awaitable[T], Coroutine[Any, Any, T]: the awaited T
            return self.ts(args[-1]) if args else "any"
        if hint is bool:
            return "boolean"
        if hint is int or hint is float:
            return "number"
        if hint is str:
            return "string"
        if hint is bytes:
            return "Uint8Array"
        if hint in (complex, frozenset) or origin is frozenset:
            return "any"  # copied, but with no TypeScript counterpart in the stub
        # lists, dicts, sets, callables, other classes: passed by reference
        return self.remote()

    def union(self, parts):
        seen = []
        for part in parts:
            if part == "any":
                return "any"
            if part not in seen:
                seen.append(part)
        # null last, as written by hand: `string | null`
        seen.sort(key=lambda p: p == "null")
        return " | ".join(seen)

    def tuple(self, args):
        if not args:
            return "ReadonlyArray<any>"
        if args == ((),):
            return "readonly []"
        if len(args) == 2 and args[1] is Ellipsis:
            return f"ReadonlyArray<{self.ts(args[0])}>"
        return "readonly [" + ", ".join(self.ts(a) for a in args) + "]"


def literal(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "any"


def is_awaitable_origin(origin):
    import collections.abc as abc

    return origin in (abc.Awaitable, abc.Coroutine)


def value_type(emitter, value):
    """The TypeScript type of an attribute known only by its value."""
    if value is None:
        return "any"
    if isinstance(value, tuple):
        return emitter.tuple(tuple(type(v) for v in value)) if value else "readonly []"
    return emitter.ts(type(value))


# ------------------------------------------------------------------------------------------------
# members


def safe_hints(obj):
    """Resolved type hints, or the raw annotations where they cannot be resolved."""
    try:
        return typing.get_type_hints(obj)
    except Exception:
        return dict(getattr(obj, "__annotations__", {}) or {})


def param_name(name, taken):
    base = name + "_" if name in TS_RESERVED else name
    while base in taken:
        base += "_"
    taken.add(base)
    return base


def method_signature(emitter, func, drop_first, returns=None):
    """`(a: number, b?: string, kwargs?: Kwargs): T` for a Python function."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return "(...args: Array<any>): any", []
    hints = safe_hints(func)
    params = list(signature.parameters.values())
    if drop_first and params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    taken = set()
    parts = []
    keywords = []
    rest = None
    for p in params:
        hint = hints.get(p.name, p.annotation)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            optional = "?" if p.default is not p.empty else ""
            parts.append(f"{param_name(p.name, taken)}{optional}: {emitter.ts(hint)}")
        elif p.kind == p.VAR_POSITIONAL:
            rest = (param_name(p.name, taken), emitter.ts(hint))
        elif p.kind == p.KEYWORD_ONLY:
            optional = "?" if p.default is not p.empty else ""
            keywords.append(f"{p.name}{optional}: {emitter.ts(hint)}")
        else:  # VAR_KEYWORD
            keywords.append(f"**{p.name}: {emitter.ts(hint)}")
    if rest is not None:
        name, item = rest
        if keywords:
            item = f"{item} | {emitter.kwargs()}" if item != "any" else "any"
        parts.append(f"...{name}: Array<{item}>")
    elif keywords:
        parts.append(f"{param_name('kwargs', taken)}?: {emitter.kwargs()}")
    if returns is None:
        returns = emitter.ts(hints.get("return", signature.return_annotation))
    return "(" + ", ".join(parts) + "): " + returns, keywords


def first_paragraph(doc):
    if not doc:
        return None
    text = inspect.cleandoc(doc).split("\n\n")[0].strip()
    return " ".join(text.split()).replace("*/", "*\\/") or None


def rpyc_bases():
    """RPyC's own service classes: their members are not the service's (but see STANDARD)."""
    try:
        import rpyc.core.service as service
    except Exception:
        return set()
    return {c for c in vars(service).values() if inspect.isclass(c) and issubclass(c, service.Service)}


# what every rpyc.Service exposes
STANDARD = [
    ("exposed_get_service_name", "exposed_get_service_name(): string", "The service's name (its first alias)."),
    ("exposed_get_service_aliases", "exposed_get_service_aliases(): ReadonlyArray<string>", "The service's aliases."),
]


def members(emitter, cls):
    """`(name, declaration, doc)` of the class's exposed members, in definition order."""
    skip = rpyc_bases() | {object}
    own = [c for c in cls.__mro__ if c not in skip]
    found = {}
    order = []

    def add(name, declaration, doc):
        if name not in found:
            found[name] = (declaration, doc)
            order.append(name)

    for klass in own:
        hints = safe_hints(klass)
        for name, raw in vars(klass).items():
            if not name.startswith(PREFIX) or name in found:
                continue
            add(name, *member(emitter, klass, name, raw, hints))
        # annotated attributes without a class-level value (`exposed_name: str`, set in __init__)
        for name, hint in hints.items():
            if name.startswith(PREFIX) and name not in vars(klass) and typing.get_origin(hint) is not typing.ClassVar:
                add(name, f"readonly {name}: {emitter.ts(hint)}", None)
    if any(c in skip for c in cls.__mro__ if c is not object):
        for name, declaration, doc in STANDARD:
            add(name, declaration, doc)
    return [(name, *found[name]) for name in order]


def member(emitter, klass, name, raw, hints):
    doc = first_paragraph(getattr(raw, "__doc__", None)) if callable(raw) or isinstance(
        raw, (staticmethod, classmethod, property)) else None
    if isinstance(raw, staticmethod):
        signature, _ = method_signature(emitter, raw.__func__, drop_first=False)
        return name + signature, doc
    if isinstance(raw, classmethod):
        signature, _ = method_signature(emitter, raw.__func__, drop_first=True)
        return name + signature, doc
    if isinstance(raw, property):
        returns = "any"
        if raw.fget is not None:
            returns = emitter.ts(safe_hints(raw.fget).get("return", inspect.Signature.empty))
        return f"readonly {name}: {returns}", doc
    if inspect.isclass(raw):
        # an exposed class: calling it builds an instance, which travels by reference
        signature, _ = method_signature(emitter, raw, drop_first=False, returns=emitter.remote())
        return name + signature, first_paragraph(raw.__doc__)
    if inspect.isfunction(raw):
        # RPyC does not await a coroutine function: the caller gets the coroutine, by reference
        returns = emitter.remote() if inspect.iscoroutinefunction(raw) else None
        signature, _ = method_signature(emitter, raw, drop_first=True, returns=returns)
        return name + signature, doc
    if callable(raw):
        return name + "(...args: Array<any>): any", None
    hint = hints.get(name)
    if hint is not None and typing.get_origin(hint) is typing.ClassVar:
        args = typing.get_args(hint)
        hint = args[0] if args else None
    return f"readonly {name}: {emitter.ts(hint) if hint is not None else value_type(emitter, raw)}", None


# ------------------------------------------------------------------------------------------------
# output


def render(cls, target, interface):
    emitter = Emitter()
    found = members(emitter, cls)
    lines = [
        f"// Generated by rpyc-stubgen from {target}.",
        "// Do not edit: run rpyc-stubgen again instead.",
        "// Use it as `Client.connect<" + interface + ">(...)`: `conn.root.add(1, 2)` calls `exposed_add`.",
    ]
    if emitter.imports:
        lines.append("import type { " + ", ".join(sorted(emitter.imports)) + ' } from "effect-rpyc/RemoteOp"')
    lines.append("")
    doc = first_paragraph(cls.__doc__)
    if doc and cls.__doc__ is not getattr(cls.__mro__[1] if len(cls.__mro__) > 1 else object, "__doc__", None):
        lines.append(f"/** {doc} */")
    lines.append(f"export interface {interface} {{")
    for _, declaration, member_doc in found:
        if member_doc:
            lines.append(f"  /** {member_doc} */")
        lines.append(f"  {declaration}")
    lines.append("}")
    return "\n".join(lines) + "\n", len(found)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Failure(message, 2)


def main(argv=None):
    parser = Parser(prog=PROG, description="Write a TypeScript interface for a Python RPyC service class.")
    parser.add_argument("target", help="module:ClassName or path/to/file.py:ClassName")
    parser.add_argument("--out", help="the file to write (default: standard output)")
    parser.add_argument("--name", help="the interface's name (default: the class's name)")
    try:
        args = parser.parse_args(argv)
        cls = load_class(args.target)
        interface = args.name or cls.__name__
        if not interface.isidentifier():
            raise Failure(f"--name must be an identifier (got {interface!r})", 2)
        text, count = render(cls, args.target, interface)
        if args.out:
            folder = os.path.dirname(os.path.abspath(args.out))
            os.makedirs(folder, exist_ok=True)
            with open(args.out, "w", encoding="utf-8") as out:
                out.write(text)
            print(f"{PROG}: wrote {args.out} (interface {interface}, {count} members)", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    except Failure as failure:
        print(f"{PROG}: {failure}", file=sys.stderr)
        return failure.code
    except OSError as error:
        print(f"{PROG}: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
