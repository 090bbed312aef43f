"""The form model: pages, conditionals, defaults, field kinds, validation and catalog pickers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backends.scaffolder.form import MASK, FormModel
from backends.scaffolder.pickers import RepoUrl
from backends.scaffolder.template import template_from_dict
from tests.scaffolder.helpers import FakeCatalog


def make(parameters: Any, **kwargs: Any) -> FormModel:
    template = template_from_dict(
        {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": {"name": "t"},
            "spec": {"type": "service", "parameters": parameters, "steps": []},
        },
        Path("."),
        "test",
    )
    return FormModel(template, **kwargs)


def fields(form: FormModel) -> dict[str, Any]:
    return {f.name: f for f in form.fields()}


def test_single_object_parameters_become_one_page() -> None:
    form = make({"properties": {"a": {"type": "string"}}})
    assert [p.title for p in form.pages()] == ["Step 1"]


def test_pages_defaults_and_required() -> None:
    form = make(
        [
            {"title": "One", "required": ["name"], "properties": {"name": {"type": "string"}}},
            {
                "title": "Two",
                "properties": {"tags": {"type": "array", "items": {"type": "string"}, "default": ["x"]}},
            },
        ]
    )
    pages = form.pages()
    assert [p.title for p in pages] == ["One", "Two"]
    assert pages[0].errors == {"name": "is required"}
    assert [f.name for f in form.missing_required()] == ["name"]
    form.set("name", "svc")
    assert form.valid
    # Defaults are applied (unlike Backstage's backend), so later steps always see them.
    assert form.parameters() == {"name": "svc", "tags": ["x"]}


def test_dependencies_one_of_switches_fields_and_drops_hidden_answers() -> None:
    form = make(
        {
            "properties": {"db": {"type": "string", "enum": ["postgres", "none"], "default": "none"}},
            "dependencies": {
                "db": {
                    "oneOf": [
                        {"properties": {"db": {"const": "none"}}},
                        {
                            "properties": {
                                "db": {"const": "postgres"},
                                "size": {"type": "integer", "default": 10},
                            },
                            "required": ["size"],
                        },
                    ]
                }
            },
        }
    )
    assert list(fields(form)) == ["db"]
    form.set("db", "postgres")
    assert list(fields(form)) == ["db", "size"]
    assert fields(form)["size"].value == 10
    assert fields(form)["size"].required
    form.set("size", 20)
    form.set("db", "none")
    assert form.parameters() == {"db": "none"}  # size is hidden again: its answer is dropped


def test_property_dependencies_list_form() -> None:
    form = make(
        {"properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "dependencies": {"a": ["b"]}}
    )
    assert not fields(form)["b"].required
    form.set("a", "x")
    assert fields(form)["b"].required
    assert form.errors() == {"b": "is required"}


def test_all_of_if_then_else() -> None:
    form = make(
        {
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["lib", "svc"]}},
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": "svc"}}, "required": ["kind"]},
                    "then": {"properties": {"port": {"type": "integer", "default": 8080}}},
                    "else": {"properties": {"registry": {"type": "string"}}},
                }
            ],
        }
    )
    assert "registry" in fields(form)
    form.set("kind", "svc")
    assert "port" in fields(form) and "registry" not in fields(form)
    assert form.parameters() == {"kind": "svc", "port": 8080}


def test_top_level_one_of_picks_the_branch_the_answers_point_at() -> None:
    form = make(
        {
            "properties": {"mode": {"type": "string"}},
            "oneOf": [
                {"properties": {"mode": {"const": "a"}, "alpha": {"type": "string"}}},
                {"properties": {"mode": {"const": "b"}, "beta": {"type": "string"}}},
            ],
        }
    )
    form.set("mode", "b")
    assert "beta" in fields(form) and "alpha" not in fields(form)


def test_page_when_condition_hides_page_and_its_values() -> None:
    form = make(
        [
            {"title": "Basics", "properties": {"advanced": {"type": "boolean", "default": False}}},
            {
                "title": "Advanced",
                "when": "${{ parameters.advanced }}",
                "required": ["replicas"],
                "properties": {"replicas": {"type": "integer"}},
            },
        ]
    )
    assert [p.title for p in form.pages()] == ["Basics"]
    assert form.valid  # the hidden page's required field is not checked
    form.set("advanced", True)
    assert [p.title for p in form.pages()] == ["Basics", "Advanced"]
    assert form.errors() == {"replicas": "is required"}


def test_field_kinds_and_ui_keys() -> None:
    form = make(
        {
            "ui:order": ["secret", "*", "first"],
            "properties": {
                "first": {"type": "string", "ui:autofocus": True, "ui:help": "help!", "ui:placeholder": "p"},
                "text": {"type": "string", "ui:widget": "textarea"},
                "pw": {"type": "string", "ui:widget": "password"},
                "radio": {
                    "type": "string",
                    "enum": ["a", "b"],
                    "enumNames": ["A", "B"],
                    "ui:widget": "radio",
                },
                "checks": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["x", "y"]},
                    "ui:widget": "checkboxes",
                },
                "free": {"type": "array", "items": {"type": "string"}},
                "num": {"type": "number"},
                "int": {"type": "integer"},
                "flag": {"type": "boolean"},
                "ro": {"type": "string", "ui:readonly": True, "default": "fixed"},
                "hid": {"type": "string", "ui:widget": "hidden", "default": "h"},
                "secret": {"type": "string", "ui:field": "Secret"},
                "repo": {"type": "string", "ui:field": "RepoUrlPicker"},
                "owner": {"type": "string", "ui:field": "OwnerPicker"},
                "many": {"type": "array", "ui:field": "MultiEntityPicker"},
                "tags": {"type": "array", "ui:field": "EntityTagsPicker"},
            },
        }
    )
    by_name = fields(form)
    assert list(by_name)[0] == "secret" and list(by_name)[-1] == "first"
    kinds = {name: f.kind for name, f in by_name.items()}
    assert kinds == {
        "secret": "secret",
        "text": "text",
        "pw": "password",
        "radio": "enum",
        "checks": "multiselect",
        "free": "array",
        "num": "number",
        "int": "integer",
        "flag": "boolean",
        "ro": "string",
        "hid": "string",
        "repo": "repo-url",
        "owner": "entity",
        "many": "entities",
        "tags": "tags",
        "first": "string",
    }
    first = by_name["first"]
    assert (first.autofocus, first.help, first.placeholder) == (True, "help!", "p")
    assert by_name["radio"].widget == "radio" and by_name["radio"].choices == [("a", "A"), ("b", "B")]
    assert by_name["checks"].choices == [("x", "x"), ("y", "y")]
    assert by_name["ro"].readonly and by_name["hid"].hidden and by_name["secret"].secret


def test_set_text_converts_to_the_field_type() -> None:
    form = make(
        {
            "properties": {
                "n": {"type": "integer"},
                "b": {"type": "boolean"},
                "l": {"type": "array", "items": {"type": "string"}},
                "s": {"type": "string"},
            }
        }
    )
    form.set_text("n", "42")
    form.set_text("b", "yes")
    form.set_text("l", "a, b")
    form.set_text("s", "007")
    assert form.parameters() == {"n": 42, "b": True, "l": ["a", "b"], "s": "007"}
    form.set_text("n", "forty")
    assert form.errors() == {"n": "must be of type integer"}


def test_validation_messages() -> None:
    form = make(
        {
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": 5},
                "port": {"type": "integer", "minimum": 1024},
                "mail": {"type": "string", "format": "email"},
                "tags": {"type": "array", "uniqueItems": True},
                "env": {"type": "string", "enum": ["dev", "prod"]},
            }
        }
    )
    for name, value in {"name": "Bad", "port": 80, "mail": "nope", "tags": ["a", "a"], "env": "qa"}.items():
        form.set(name, value)
    assert form.errors() == {
        "name": "must match pattern ^[a-z][a-z0-9-]*$",
        "port": "must be ≥ 1024",
        "mail": "must be a valid email",
        "tags": "must not contain duplicates",
        "env": "must be one of: dev, prod",
    }


def test_entity_name_and_repo_url_rules() -> None:
    form = make(
        {
            "properties": {
                "name": {"type": "string", "ui:field": "EntityNamePicker"},
                "repo": {
                    "type": "string",
                    "ui:field": "RepoUrlPicker",
                    "ui:options": {"allowedHosts": ["git.acme"], "allowedOwners": ["team-a"]},
                },
            }
        }
    )
    form.set("name", "-bad-")
    form.set("repo", "github.com?owner=team-a&repo=x")
    errors = form.errors()
    assert "alphanumeric" in errors["name"]
    assert "github.com" in errors["repo"] and "not allowed" in errors["repo"]
    form.set("name", "good.name_1")
    form.set("repo", "git.acme?owner=team-b&repo=x")
    assert "owner 'team-b' is not allowed" in form.errors()["repo"]
    form.set("repo", str(RepoUrl(host="git.acme", owner="team-a")))
    assert "incomplete" in form.errors()["repo"]
    form.set("repo", "git.acme?owner=team-a&repo=svc")
    assert form.valid
    assert RepoUrl.parse(form.parameters()["repo"]).repo == "svc"


def test_secrets_stay_out_of_parameters_and_are_masked_in_review() -> None:
    form = make(
        {
            "properties": {
                "name": {"type": "string"},
                "token": {"type": "string", "ui:field": "Secret"},
                "pw": {"type": "string", "ui:widget": "password"},
                "quiet": {"type": "string", "ui:backstage": {"review": {"show": False}}},
            }
        }
    )
    for name, value in {"name": "svc", "token": "CANARY-1", "pw": "CANARY-2", "quiet": "q"}.items():
        form.set(name, value)
    assert form.parameters() == {"name": "svc", "pw": "CANARY-2", "quiet": "q"}
    assert form.secrets() == {"token": "CANARY-1"}
    review = {item.name: item.display for item in form.review()}
    assert review == {"name": "svc", "token": MASK, "pw": MASK}
    assert form.is_secret("token") and not form.is_secret("name")


def test_pickers_are_fed_by_the_catalog(catalog: FakeCatalog) -> None:
    form = make(
        {
            "properties": {
                "owner": {"type": "string", "ui:field": "OwnerPicker"},
                "system": {
                    "type": "string",
                    "ui:field": "EntityPicker",
                    "ui:options": {"catalogFilter": {"kind": "System"}, "defaultKind": "System"},
                },
                "service": {
                    "type": "string",
                    "ui:field": "EntityPicker",
                    "ui:options": {"catalogFilter": [{"kind": "Component", "spec.type": "service"}]},
                },
                "mine": {"type": "string", "ui:field": "OwnedEntityPicker"},
                "groups": {"type": "string", "ui:field": "MyGroupsPicker"},
                "tags": {
                    "type": "array",
                    "ui:field": "EntityTagsPicker",
                    "ui:options": {"kinds": ["Component"]},
                },
                "tagged": {
                    "type": "string",
                    "ui:field": "EntityPicker",
                    "ui:options": {
                        "catalogFilter": {"metadata.tags": "money", "spec.owner": {"exists": True}}
                    },
                },
            }
        },
        catalog=catalog,
        user="jane",
    )
    values = {name: [o.value for o in form.options(name)] for name in fields(form)}
    assert values["owner"] == ["group:default/team-a", "group:default/team-b", "user:default/jane"]
    assert values["system"] == ["system:default/billing"]
    assert sorted(values["service"]) == ["component:default/ledger", "component:default/payments"]
    assert sorted(values["mine"]) == ["component:default/payments", "system:default/billing"]
    assert values["groups"] == ["group:default/team-a"]
    assert values["tags"] == ["go", "money", "python", "typescript"]
    assert sorted(values["tagged"]) == ["component:default/payments", "system:default/billing"]
    system = form.options("system")[0]
    assert system.label == "billing"  # the default kind is left out of the label


def test_fuzzy_search_prefers_substring_hits(catalog: FakeCatalog) -> None:
    form = make({"properties": {"c": {"type": "string", "ui:field": "EntityPicker"}}}, catalog=catalog)
    assert form.options("c", "pay")[0].value == "component:default/payments"
    assert form.options("c", "ldgr")[0].value == "component:default/ledger"  # fuzzy, not substring


def test_allow_arbitrary_values_false_limits_to_the_catalog(catalog: FakeCatalog) -> None:
    form = make(
        {
            "properties": {
                "sys": {
                    "type": "string",
                    "ui:field": "EntityPicker",
                    "ui:options": {"catalogFilter": {"kind": "System"}, "allowArbitraryValues": False},
                }
            }
        },
        catalog=catalog,
    )
    form.set("sys", "system:default/unknown")
    assert "not one of the offered entities" in form.errors()["sys"]
    form.set("sys", "system:default/billing")
    assert form.valid


def test_enum_options_without_catalog() -> None:
    form = make(
        {"properties": {"lang": {"type": "string", "enum": ["go", "python"], "enumNames": ["Go", "Python"]}}}
    )
    assert [(o.value, o.label) for o in form.options("lang", "py")] == [("python", "Python")]


def test_top_level_if_then() -> None:
    form = make(
        {
            "properties": {"public": {"type": "boolean", "default": False}},
            "if": {"properties": {"public": {"const": True}}},
            "then": {"required": ["domain"], "properties": {"domain": {"type": "string"}}},
        }
    )
    assert "domain" not in fields(form)
    form.set("public", True)
    assert fields(form)["domain"].required
    assert form.errors() == {"domain": "is required"}


def test_a_review_setting_that_is_not_a_mapping_is_ignored() -> None:
    # ``ui:backstage: {review: true}`` in a template must not crash the review page.
    form = make({"properties": {"name": {"type": "string", "ui:backstage": {"review": True}}}})
    form.set("name", "svc")
    assert [(item.name, item.display) for item in form.review()] == [("name", "svc")]
