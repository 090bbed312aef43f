"""Each Backstage validation rule, one document at a time (reference/catalog.md §1)."""

from __future__ import annotations

import pytest

from backends.catalog.loader import parse_documents
from backends.catalog.validation import validate_entity

HEAD = "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
SPEC = "spec: {type: service, lifecycle: production, owner: team-a}\n"


def verdict(text: str) -> str | None:
    """The first error of the one document in ``text`` (None when valid)."""
    [doc] = parse_documents(text)
    assert doc.error is None, doc.error
    return validate_entity(doc.data).error


def entity(kind: str, spec: str | None, api: str = "backstage.io/v1alpha1") -> str:
    """A one-line-per-field document of ``kind`` named ``x`` (``spec`` None: no spec at all)."""
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n"
    return text if spec is None else f"{text}spec: {spec}\n"


def component(metadata: str, spec: str = SPEC) -> str:
    return f"{HEAD}metadata: {metadata}\n{spec}"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        # envelope
        ("kind: Component\nmetadata: {name: x}\n", "required property 'apiVersion'"),
        ("apiVersion: backstage.io/v1alpha1\nmetadata: {name: x}\n", "required property 'kind'"),
        (f"{HEAD}spec: {{}}\n", "required property 'metadata'"),
        (component("{title: t}"), "/metadata must have required property 'name'"),
        (component("{name: 123}"), "/metadata/name must be string"),
        (component('{name: ""}'), "/metadata/name must NOT have fewer than 1 characters"),
        ("just text\n", "Expected object at root, got string"),
        ("- a\n", "Expected object at root, got array"),
        # apiVersion and kind formats
        (
            component("{name: x}").replace("backstage.io/v1alpha1", "Backstage.io/v1"),
            '"apiVersion" is not valid',
        ),
        (component("{name: x}").replace("backstage.io/v1alpha1", "a/b/c"), '"apiVersion" is not valid'),
        (component("{name: x}").replace("kind: Component", "kind: 1x"), '"kind" is not valid'),
        (component("{name: x}").replace("kind: Component", "kind: component"), "kinds are case-sensitive"),
        (component("{name: x}").replace("kind: Component", "kind: Widget"), "No processor recognized"),
        (component("{name: x}").replace("v1alpha1", "v2"), "No processor recognized"),
        # metadata
        (component("{name: -bad}"), '"metadata.name" is not valid'),
        (component("{name: " + "a" * 64 + "}"), '"metadata.name" is not valid'),
        (component("{name: x, namespace: Prod}"), '"metadata.namespace" is not valid'),
        (component('{name: x, title: ""}'), "/metadata/title must NOT have fewer than 1 characters"),
        (component("{name: x, description: 5}"), "/metadata/description must be string"),
        (component("{name: x, labels: {a: 1}}"), "Malformed envelope, /metadata/labels/a must be string"),
        (component("{name: x, labels: {a: b/c}}"), '"labels.a" is not valid'),
        (component("{name: x, labels: {A.com/b: c}}"), '"labels.A.com/b" is not valid'),
        (component("{name: x, annotations: {a/b/c: d}}"), '"annotations.a/b/c" is not valid'),
        (component("{name: x, annotations: {a: true}}"), "/metadata/annotations/a must be string"),
        (component("{name: x, tags: [Java]}"), '"tags.0" is not valid'),
        (component("{name: x, tags: [" + "a" * 64 + "]}"), '"tags.0" is not valid'),
        (component("{name: x, links: [{title: t}]}"), "/metadata/links/0 must have required property 'url'"),
        (component("{name: x, links: [{url: nope}]}"), '"links.0.url" is not valid'),
        (component("{name: x, links: [{url: 'https://x.io', title: ' '}]}"), '"links.0.title" is not valid'),
        (component("{name: x, links: [{url: 'https://x.io', icon: ''}]}"), "/metadata/links/0/icon must NOT"),
        # foreign root fields
        (component("{name: x}") + "relations: []\n", "Unknown field relations"),
        (component("{name: x}") + "status: {}\n", "Unknown field status"),
        (component("{name: x}") + "extra: 1\n", "must NOT have additional properties (extra)"),
        # per-kind spec
        (component("{name: x}", "spec: {type: s, owner: g}\n"), "required property 'lifecycle'"),
        (
            component("{name: x}", "spec: {type: s, lifecycle: l, owner: {kind: Group, name: g}}\n"),
            "/spec/owner must be string",
        ),
        (component("{name: x}", "spec: [a]\n"), "/spec must be object"),
        (
            entity("API", "{type: t, lifecycle: l, owner: g}"),
            "required property 'definition'",
        ),
        (
            entity("Resource", "{owner: g}"),
            "required property 'type'",
        ),
        (
            entity("System", "{}"),
            "required property 'owner'",
        ),
        (
            entity("Domain", None),
            "required property 'spec'",
        ),
        (
            entity("Group", "{type: team}"),
            "required property 'children'",
        ),
        (
            entity("User", "{}"),
            "required property 'memberOf'",
        ),
        (
            entity("Location", "{presence: maybe}"),
            "/spec/presence must be equal to one of the allowed values",
        ),
        (
            entity("Template", "{type: service}", api="scaffolder.backstage.io/v1beta3"),
            "required property 'steps'",
        ),
        (
            entity("Template", "{type: service, steps: [{name: x}]}", api="scaffolder.backstage.io/v1beta3"),
            "/spec/steps/0 must have required property 'action'",
        ),
        (
            entity("Template", "{type: s, steps: []}"),
            "a Template needs apiVersion scaffolder.backstage.io/v1beta3",
        ),
        # bad refs in relation fields fail the entity
        (component("{name: x}", "spec: {type: s, lifecycle: l, owner: 'group:'}\n"), "was not on the form"),
        (
            component("{name: x}", "spec: {type: s, lifecycle: l, owner: g, dependsOn: [db]}\n"),
            "had missing or empty kind",
        ),
        (
            component("{name: x}", "spec: {type: s, lifecycle: l, owner: g, dependencyOf: [5]}\n"),
            "had missing or empty kind",
        ),
        # YAML 1.2: 0755 is a number, so not a valid type
        (component("{name: x}", "spec: {type: 0755, lifecycle: l, owner: g}\n"), "/spec/type must be string"),
    ],
)
def test_invalid_documents_name_the_rule(text: str, error: str) -> None:
    message = verdict(text)
    assert message is not None and error in message


@pytest.mark.parametrize(
    "text",
    [
        component("{name: a--b._c, namespace: a-1--b}"),
        component("{name: x, labels: {example.com/team: a-b_c.d, empty: ''}, tags: ['k8s:prod', c++, 'c#']}"),
        component("{name: x, annotations: {example.com/any: 'Any text / at all'}}"),
        component("{name: x, links: [{url: 'mailto:a@b.c'}, {url: 'http:example.com', type: docs}]}"),
        component("{name: x, uid: abc, custom: field}"),
        component("{name: x}", "spec: {type: yes, lifecycle: 2024-01-01, owner: on}\n"),  # YAML 1.2 strings
        component("{name: x}", "spec: {type: s, lifecycle: l, owner: g, unknownKey: [1]}\n"),
        component("{name: x}").replace("v1alpha1", "v1beta1"),
        entity("Group", "{type: team, children: []}"),
        entity("User", "{memberOf: []}"),
        entity("Location", "{}"),
        entity(
            "Template",
            "{type: service, steps: [{action: fetch:template}], parameters: [{when: true}]}",
            api="scaffolder.backstage.io/v1beta3",
        ),
    ],
)
def test_valid_documents(text: str) -> None:
    assert verdict(text) is None


def test_ref_defaults_namespace_and_lowercases() -> None:
    [doc] = parse_documents(component("{name: Payment-Service, namespace: billing}"))
    assert validate_entity(doc.data).ref == "component:billing/payment-service"
