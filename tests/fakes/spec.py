"""Checks request bodies against OpenAI's published OpenAPI file (../shared/spec).

The schema for each path is read from the spec itself (``requestBody`` of the
POST operation), never hard-coded. Notes on the spec (see SOURCE.txt there):

- ``nullable: true`` beside ``anyOf`` is an OpenAPI 3.0 keyword that JSON Schema
  2020-12 ignores, so such fields are still checked (Prism, by contrast, silently
  skips the whole body).
- Paths in the spec have no ``/v1`` prefix.
- Multipart ``image[]`` parts (what openai-python sends) are checked as the
  ``image`` array; multipart scalars arrive as text and are coerced to the type
  the schema names before checking.
- Several ``oneOf`` unions in the spec overlap (a user message matches more than
  one branch), so ``oneOf`` is checked as "at least one branch matches".
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:openai-openapi"
DEFAULT_SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "openai-openapi.yaml"

_LenientOneOf = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"oneOf": Draft202012Validator.VALIDATORS["anyOf"]}
)


def spec_path() -> Path:
    return Path(os.environ.get("REDRAW_OPENAPI_SPEC", DEFAULT_SPEC))


@cache
def _load(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    # Parsing 3 MB of YAML takes seconds; keep a JSON copy keyed by content.
    cached = Path(tempfile.gettempdir()) / f"openai-openapi-{hashlib.sha256(raw).hexdigest()[:16]}.json"
    if cached.exists():
        loaded: dict[str, Any] = json.loads(cached.read_bytes())
        return loaded
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(raw, Loader=loader)
    cached.write_text(json.dumps(document, default=str))
    return document


class SpecValidator:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or spec_path()
        self.spec = _load(self.path)
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._resolver = self.registry.resolver(base_uri=SPEC_URI)

    def schema_ref(self, path: str, content_type: str) -> str:
        """The ``$ref`` of the request body schema for POST ``path`` (with or without /v1)."""
        operation = self.spec["paths"][path.removeprefix("/v1")]["post"]
        schema = operation["requestBody"]["content"][content_type]["schema"]
        ref: str = schema["$ref"]
        return ref

    def _validator(self, path: str, content_type: str) -> Draft202012Validator:
        schema = {"$ref": SPEC_URI + self.schema_ref(path, content_type)}
        validator: Draft202012Validator = _LenientOneOf(schema, registry=self.registry)
        return validator

    def validate_json(self, path: str, body: Any) -> list[str]:
        return _messages(self._validator(path, "application/json"), body)

    def validate_multipart(
        self, path: str, fields: Mapping[str, list[str]], file_fields: Mapping[str, int]
    ) -> list[str]:
        """``fields``: text parts by name; ``file_fields``: how many files each name carried."""
        properties = self._properties(self.schema_ref(path, "multipart/form-data"))
        body: dict[str, Any] = {}
        for name, values in fields.items():
            key = name.removesuffix("[]")
            coerced = [_coerce(value, self._types(properties.get(key, {}))) for value in values]
            body[key] = coerced if name.endswith("[]") or len(coerced) > 1 else coerced[0]
        for name, count in file_fields.items():
            key = name.removesuffix("[]")
            body[key] = ["<file>"] * count if name.endswith("[]") or count > 1 else "<file>"
        return _messages(self._validator(path, "multipart/form-data"), body)

    def _properties(self, ref: str) -> dict[str, Any]:
        schema = self._resolver.lookup(SPEC_URI + ref).contents
        properties: dict[str, Any] = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            properties.update(
                self._properties(part["$ref"]) if "$ref" in part else part.get("properties", {})
            )
        return properties

    def _types(self, schema: Mapping[str, Any]) -> set[str]:
        if "$ref" in schema:
            return self._types(self._resolver.lookup(SPEC_URI + schema["$ref"]).contents)
        found = {schema["type"]} if isinstance(schema.get("type"), str) else set(schema.get("type", []))
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
            found |= self._types(branch)
        return found


def _coerce(value: str, types: set[str]) -> Any:
    if "integer" in types and value.lstrip("-").isdigit():
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


def _messages(validator: Draft202012Validator, body: Any) -> list[str]:
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message[:300]}" for error in errors
    ]
