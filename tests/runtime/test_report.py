"""The runtime block: plain columns in files and pipes, a rich table on a terminal."""

from __future__ import annotations

from freezelint.runtime import report

RESULT = {
    "mode": "slice",
    "statements": 5,
    "seconds": 0.4,
    "models": [
        {
            "name": "model", "class": "BertForSequenceClassification", "line": 4,
            "loaded": [{"checkpoint": "bert-base-uncased", "line": 4, "source": "bundled config", "notes": []}],
            "total": 1200, "trainable": 200, "frozen": 1000, "prefix": "",
            "modules": [{"name": "bert", "class": "BertModel", "total": 1000, "trainable": 0},
                        {"name": "classifier", "class": "Linear", "total": 200, "trainable": 200}],
            "tied": [["a.weight", "b.weight"]],
        }
    ],
    "blockers": [{"needed_by": 9, "line": 7, "code": "raw = load_dataset('x')", "reason": "loads data"}],
    "failures": [{"line": 3, "kind": "ConfigNotFound", "message": "no configuration for `x`"}],
    "stopped": {"reason": "the first Trainer.train()", "line": 12},
}


def test_plain_block():
    assert report.render("train.py", RESULT) == (
        "train.py: runtime check: replayed 5 statements of the script in 0.4 s\n"
        "  model `model` (BertForSequenceClassification: bert-base-uncased at line 4, bundled config)\n"
        "    1,200 parameters: 200 trainable, 1,000 frozen\n"
        "    module      class      parameters  trainable  frozen\n"
        "    bert        BertModel       1,000          0   1,000\n"
        "    classifier  Linear            200        200       0\n"
        "    tied: a.weight = b.weight\n"
        "  not replayed: line 9 needs line 7 (`raw = load_dataset('x')`), which loads data\n"
        "  failed: line 3: ConfigNotFound: no configuration for `x`\n"
        "  stopped at the first Trainer.train() (line 12)\n"
    )


def test_rich_block_colours_frozen_and_trainable_rows():
    block = report.render("train.py", RESULT, rich=True)
    assert "\x1b[31m" in block and "\x1b[32m" in block  # red: nothing trainable; green: all trainable
    assert "BertModel" in block and "classifier" in block


def test_summary_line():
    assert report.summary({"confirmed": 2, "refuted": 1, "found": 1}) == (
        "Runtime: 2 confirmed, 1 refuted (not counted), 1 found at runtime.\n"
    )
    assert report.summary({}) == "Runtime: no findings to check.\n"
