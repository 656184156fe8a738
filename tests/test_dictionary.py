from warehouse import dictionary
from warehouse import models as sql_models
from warehouse.schema_docs import core_columns


def test_the_committed_dictionary_is_up_to_date():
    assert dictionary.main(["--check"]) == 0, "run `python -m warehouse.dictionary` and commit the result"


def test_it_lists_every_core_table_and_every_model_column():
    text = dictionary.render()
    for table, columns in core_columns().items():
        if table.startswith("meta."):
            continue
        assert f"### `{table}`" in text
        for column in columns:
            assert f"| `{column.name}` |" in text
    for model in sql_models.discover():
        assert f"### `{model.relation}`" in text
