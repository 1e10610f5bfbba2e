"""The benchmark sets ship inside the package: complete, licensed, the decontamination defaults,
overridable by path, and present in a built wheel."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aitherd import benchmarks
from aitherd.benchmarks import BenchmarkError
from aitherd.config import load as load_config
from aitherd.curate import BenchmarkPaths, DecontamConfig, DecontamIndex

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_benchmark_loads_complete():
    for name, spec in benchmarks.BENCHMARKS.items():
        rows = benchmarks.load(name)
        assert len(rows) == spec.rows, name
        assert all(set(spec.fields) <= set(r) for r in rows), name
    mbpp = benchmarks.load("mbpp_test")
    assert [r["task_id"] for r in mbpp] == list(range(11, 511))
    sanitized = {r["task_id"] for r in benchmarks.load("mbpp_sanitized_test")}
    assert sanitized <= set(range(11, 511)) and len(sanitized) == 257
    for name in ("gsm8k_test", "gsm8k_train"):
        assert all(re.search(r"#### -?[\d,.]+\s*$", r["answer"]) for r in benchmarks.load(name)), name


def test_shipped_files_are_gzip_with_their_licences_beside_them():
    for name in ("gsm8k_test", "gsm8k_train", "mbpp_test", "mbpp_sanitized_test"):
        path = benchmarks.path(name)
        assert path.suffix == ".gz" and path.parent.name == "data"
        with gzip.open(path) as f:
            f.read(64)  # a real gzip stream, not a renamed text file
    notice = benchmarks.notice()
    assert "GSM8K" in notice and "MIT" in notice and "LICENSE-GSM8K" in notice
    assert 'Austin et al., 2021, "Program Synthesis with Large Language Models"' in notice
    assert "CC-BY-4.0" in notice and "creativecommons.org/licenses/by/4.0" in notice
    mit = (benchmarks.path("gsm8k_test").parent / "LICENSE-GSM8K").read_text()
    assert "Copyright (c) 2021 OpenAI" in mit and "Permission is hereby granted" in mit


def test_a_given_path_replaces_the_shipped_copy_in_any_format(tmp_path):
    rows = [{"question": f"q{i}", "answer": f"#### {i}"} for i in range(3)]
    plain = tmp_path / "g.jsonl"
    plain.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    array = tmp_path / "g.json"
    array.write_text(json.dumps(rows))
    packed = tmp_path / "g.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, array, packed):
        assert benchmarks.load("gsm8k_test", path) == rows


def test_bad_benchmark_files_say_which_file_and_row(tmp_path):
    bad = tmp_path / "gsm.jsonl"
    bad.write_text('{"question": "a", "answer": "#### 1"}\n{"question": "b"}\n')
    with pytest.raises(BenchmarkError, match=r"gsm\.jsonl: row 2 lacks answer"):
        benchmarks.load("gsm8k_test", bad)
    bad.write_text('{"question": "a", "answer": "#### 1"}\n{not json\n')
    with pytest.raises(BenchmarkError, match=r"gsm\.jsonl:2: not a JSON line"):
        benchmarks.load("gsm8k_test", bad)
    with pytest.raises(BenchmarkError, match=r"missing\.jsonl: cannot read"):
        benchmarks.load("gsm8k_test", tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(BenchmarkError, match="no rows"):
        benchmarks.load("mbpp_test", tmp_path / "empty.jsonl")
    with pytest.raises(BenchmarkError, match="unknown benchmark 'mmlu'"):
        benchmarks.load("mmlu")


def test_decontamination_defaults_to_the_shipped_copies():
    paths = BenchmarkPaths()
    assert paths.gsm8k == benchmarks.path("gsm8k_test") and paths.mbpp == benchmarks.path("mbpp_test")
    index = DecontamIndex.from_config(DecontamConfig())
    assert index.benchmarks == ["gsm8k", "humaneval", "mbpp"]
    hit = index.screen([benchmarks.load("gsm8k_test")[7]["question"]])[0]
    assert hit is not None and hit["item"] == "gsm8k/7"


def test_config_file_overrides_turns_off_or_names_the_shipped_copy(tmp_path):
    own = tmp_path / "bench" / "gsm.jsonl"
    own.parent.mkdir()
    own.write_text(json.dumps({"question": "How many eggs does the hen lay on Mondays?", "answer": "#### 3"}) + "\n")
    cfg = tmp_path / "aitherd.toml"
    cfg.write_text('[curation.decontam.benchmarks]\ngsm8k = "bench/gsm.jsonl"\nmbpp = ""\nhumaneval = ""\n')
    bench = load_config(cfg, find_repos=False).config.curation.decontam.benchmarks
    assert bench.gsm8k == own.resolve() and bench.mbpp is None
    index = DecontamIndex.from_config(DecontamConfig(benchmarks=bench))
    assert index.benchmarks == ["gsm8k"] and len({p.item for p in index.parts}) == 1
    cfg.write_text('[curation.decontam.benchmarks]\nmbpp = "package"\n')
    bench = load_config(cfg, find_repos=False).config.curation.decontam.benchmarks
    assert bench.mbpp == benchmarks.path("mbpp_test") and bench.gsm8k == benchmarks.path("gsm8k_test")


def test_the_built_wheel_carries_the_benchmarks_and_their_notice(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "aitherd", src / "aitherd", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-c", "from setuptools import build_meta as b; print(b.build_wheel('dist'))"],
                         cwd=src, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = src / "dist" / out.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "aitherd/benchmarks/data/"
    for file in ("gsm8k_test.jsonl.gz", "gsm8k_train.jsonl.gz", "mbpp_test.jsonl.gz",
                 "mbpp_sanitized_test.json.gz", "NOTICE", "LICENSE-GSM8K"):
        assert data + file in names, file
    assert "aitherd/benchmarks/__init__.py" in names
    assert "aitherd/sources/prompts/decomposition.txt" in names
    assert "aitherd/sources/git/prior.json.gz" in names  # the commit-class prior
