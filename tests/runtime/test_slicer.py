"""The slice: what a replay runs of a script, what it never runs, and what it names as blocking."""

from __future__ import annotations

import textwrap

from freezelint.analysis import collect
from freezelint.linter import parse
from freezelint.runtime.slicer import plan
from freezelint.source import Source


def sliced(code: str):
    text = textwrap.dedent(code).lstrip("\n")
    source = Source(path="/tmp/train.py", text=text)
    return plan(collect(source, parse(source)), text, "/tmp/train.py"), text.splitlines()


def kept(code: str) -> list[str]:
    program, lines = sliced(code)
    return [lines[row - 1].strip() for row in sorted(program.kept_lines)]


def test_keeps_argument_parsing_model_freezing_and_optimizer_and_drops_data_and_training():
    assert kept('''
        import argparse
        import torch
        from datasets import load_dataset
        from transformers import AutoModelForSequenceClassification

        parser = argparse.ArgumentParser()
        parser.add_argument("--model", default="bert-base-uncased")
        args = parser.parse_args()
        data = load_dataset("imdb")
        model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
        model.bert.requires_grad_(False)
        optimizer = torch.optim.AdamW(model.parameters())
        for batch in data["train"]:
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
        model.save_pretrained("out")
    ''') == [
        "import argparse",
        "import torch",
        "from transformers import AutoModelForSequenceClassification",
        "parser = argparse.ArgumentParser()",
        'parser.add_argument("--model", default="bert-base-uncased")',
        "args = parser.parse_args()",
        "model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)",
        "model.bert.requires_grad_(False)",
        "optimizer = torch.optim.AdamW(model.parameters())",
    ]


def test_helpers_of_the_same_file_and_main_are_replayed_through_their_calls():
    lines = kept('''
        from transformers import AutoModel

        def freeze(model, n):
            for layer in model.encoder.layer[:n]:
                layer.requires_grad_(False)

        def report(model):
            print(model)

        def main():
            model = AutoModel.from_pretrained("bert-base-uncased")
            freeze(model, 4)
            report(model)

        if __name__ == "__main__":
            main()
    ''')
    assert "freeze(model, 4)" in lines and "main()" in lines and "layer.requires_grad_(False)" in lines
    assert "report(model)" not in lines and "print(model)" not in lines


def test_a_function_handed_to_a_command_line_library_is_an_entry_point():
    lines = kept('''
        import fire
        from transformers import AutoModel

        def main(name="bert-base-uncased"):
            model = AutoModel.from_pretrained(name)
            model.embeddings.requires_grad_(False)

        fire.Fire(main)
    ''')
    assert "fire.Fire(main)" in lines


def test_a_statement_the_slice_needs_but_never_runs_is_named():
    program, _ = sliced('''
        from datasets import load_dataset
        from transformers import AutoModelForSequenceClassification

        raw = load_dataset("glue", "sst2")
        labels = raw["train"].features["label"].names
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=len(labels))
    ''')
    blocker = program.blockers[6]
    assert (blocker.line, blocker.code) == (4, 'raw = load_dataset("glue", "sst2")')
    assert "datasets.load_dataset" in blocker.reason
    assert 4 not in program.kept_lines and 6 not in program.kept_lines


def test_training_calls_never_run_even_where_a_freeze_shares_the_loop():
    lines = kept('''
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            if epoch == 1:
                model.encoder.requires_grad_(False)
            for batch in loader:
                model(**batch).last_hidden_state.sum().backward()
                optimizer.step()
    ''')
    assert "model.encoder.requires_grad_(False)" in lines and "for epoch in range(3):" in lines
    assert not any("backward" in line or "step()" in line or "for batch" in line for line in lines)


def test_the_program_keeps_the_script_line_numbers():
    program, _ = sliced('''
        from transformers import AutoModel

        model = AutoModel.from_pretrained("bert-base-uncased")


        model.requires_grad_(False)
    ''')
    import dis

    lines = {i.positions.lineno for i in dis.get_instructions(program.code) if i.positions and i.positions.lineno}
    assert {3, 6} <= lines


def test_a_size_probe_in_init_is_part_of_building_the_model():
    lines = kept('''
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
                with torch.no_grad():
                    size = self.features(torch.zeros(1, 3, 16, 16)).shape[1]
                self.classifier = nn.Linear(size, 10)

        model = Net()
        model.features.requires_grad_(False)
        for x in loader:
            model(x).sum().backward()
    ''')
    assert "size = self.features(torch.zeros(1, 3, 16, 16)).shape[1]" in lines
    assert "self.classifier = nn.Linear(size, 10)" in lines
    assert "model(x).sum().backward()" not in lines
