"""Reading files and splitting documents: YAML 1.2 scalars, line numbers, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.catalog.loader import MAX_FILE_BYTES, CatalogFileError, parse_documents, read_catalog_file
from backends.catalog.reader import ReadOptions, read_documents


def test_yaml_12_scalars_stay_strings_and_octal_is_decimal() -> None:
    [doc] = parse_documents("a: on\nb: yes\nc: no\nd: 2024-01-01\ne: 0755\nf: 0o17\ng: ~\n")
    assert doc.data == {"a": "on", "b": "yes", "c": "no", "d": "2024-01-01", "e": 755, "f": 15, "g": None}


def test_merge_keys_are_not_merged() -> None:
    [doc] = parse_documents("base: &b {x: 1}\nspec:\n  <<: *b\n  y: 2\n")
    assert doc.data["spec"] == {"<<": {"x": 1}, "y": 2}


def test_documents_keep_their_index_and_starting_line() -> None:
    text = "# leading comment\n---\na: 1\n---\n\n# comment\nb: 2\n---\n---\nc: 3\n...\nd: 4\n"
    docs = parse_documents(text)
    assert [(d.index, d.line, d.data) for d in docs] == [
        (0, 2, {"a": 1}),
        (1, 4, {"b": 2}),
        (2, 8, None),  # an explicit empty document
        (3, 9, {"c": 3}),
        (4, 12, {"d": 4}),  # a bare document after `...`
    ]


def test_comment_only_file_has_no_documents() -> None:
    assert parse_documents("# nothing here\n\n") == []
    assert parse_documents("") == []


def test_broken_document_does_not_hide_its_siblings_and_reports_file_line() -> None:
    text = "a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n"
    docs = parse_documents(text)
    assert docs[0].data == {"a": 1}
    assert docs[1].data is None and docs[1].error is not None
    assert "line 4, column 2" in docs[1].error  # counted in the whole file, not the document
    assert docs[2].data == {"d": 4}


def test_duplicate_keys_are_errors_with_a_line() -> None:
    [doc] = parse_documents("x: 0\n---\nname: a\nkind: b\nname: c\n")[1:]
    assert doc.error == "YAML error at line 5: map keys must be unique; 'name' appears twice"


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(CatalogFileError, match="binary file"):
        read_catalog_file(path)


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: Zürich\n".encode("latin-1"))
    with pytest.raises(CatalogFileError, match="not UTF-8"):
        read_catalog_file(path)


def test_huge_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: cheap to create
    with pytest.raises(CatalogFileError, match="larger than the 5 MB limit"):
        read_catalog_file(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_an_error_result(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    [result] = read_documents([str(path)], ReadOptions())
    assert result.valid is False and result.index is None
    assert "cannot read file: Permission denied" in result.errors[0]


def test_symlink_loop_is_an_error_result(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    [result] = read_documents([str(tmp_path / "a.yaml")], ReadOptions())
    assert result.valid is False
    assert result.errors[0] == "cannot read file: symlink loop"


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert parse_documents(read_catalog_file(path))[0].data == {"a": 1}


# -- no input makes the loader raise -------------------------------------------------------------
_yaml_alphabet = st.sampled_from(
    [
        "---",
        "...",
        "\n",
        " ",
        "  ",
        "-",
        ":",
        "a",
        "b: ",
        "[",
        "]",
        "{",
        "}",
        "#",
        "'",
        '"',
        "&x",
        "*x",
        "!!",
        "<<",
        "kind: Component",
        "metadata:",
        "  name: x",
        "spec:",
        "\t",
        "%YAML 1.2",
        "|",
        ">",
        "?",
        ",",
        "\x00",
        "é",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_yaml_alphabet, max_size=40).map("".join))
def test_no_exception_escapes_parse_documents(text: str) -> None:
    for doc in parse_documents(text):
        assert doc.error is None or isinstance(doc.error, str)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_entityish = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["backstage.io/v1alpha1", "scaffolder.backstage.io/v1beta3", "x"])
        | _json_values,
        "kind": st.sampled_from(["Component", "API", "Group", "User", "Location", "Template", "System"])
        | _json_values,
        "metadata": st.fixed_dictionaries(
            {"name": st.text(max_size=10) | _json_values},
            optional={
                "namespace": _json_values,
                "labels": _json_values,
                "annotations": _json_values,
                "tags": _json_values,
                "links": _json_values,
                "title": _json_values,
            },
        )
        | _json_values,
        "spec": st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "lifecycle",
                    "owner",
                    "dependsOn",
                    "dependencyOf",
                    "memberOf",
                    "children",
                    "target",
                    "targets",
                    "steps",
                    "definition",
                    "system",
                    "parameters",
                    "output",
                ]
            ),
            _json_values,
            max_size=6,
        )
        | _json_values,
    },
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(_entityish)
def test_no_exception_escapes_the_pipeline(tmp_path: Path, document: dict) -> None:
    import json

    path = tmp_path / "random.yaml"
    path.write_text(json.dumps(document, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf"))
    for result in read_documents([str(path)], ReadOptions(follow=True, root=str(tmp_path))):
        assert result.valid in (True, False, None)
        assert result.valid is not False or result.errors


def test_a_directory_where_a_file_is_expected_is_an_error_result(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    [result] = read_documents([str(tmp_path / "dir.yaml")], ReadOptions())
    assert result.valid is False and result.errors == ["not a regular file (a directory)"]
