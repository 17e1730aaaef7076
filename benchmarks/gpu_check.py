"""GPU checks for the ``hf`` backend (run on a CUDA machine; see benchmarks/RESULTS.md).

1. ``memory``: random-init Llama-2-7B and Mistral-7B shapes (from the llmatlas catalog) in bf16 on
   CUDA; the estimator's weights and KV-cache bytes against what torch actually allocates.
2. ``throughput``: a random-init ~1B Llama-architecture model created on the device; llmatlas's
   ``hf`` backend and lm-evaluation-harness (``--model hf``) score the same ARC-Easy questions;
   items/s of each, their ratio, and how often their predictions agree.

Usage: python benchmarks/gpu_check.py memory|throughput|all --data DIR --tokenizer DIR --out DIR
       [--limit 500] [--tiny]   (--tiny: small shapes, for a CPU smoke test of the script)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def memory_check(tiny: bool) -> list[dict[str, Any]]:
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig

    from llmatlas.catalog import load_catalog
    from llmatlas.estimate.memory import estimate_memory

    cat = load_catalog(include_user=False)
    dev = _device()
    context = 256 if tiny else 4096
    rows = []
    for mid, cfg_cls in (("llama-2-7b", LlamaConfig), ("mistral-7b", MistralConfig)):
        m = cat.get(mid)
        a = m.architecture
        assert a is not None
        kw: dict[str, Any] = dict(
            hidden_size=a.hidden_size,
            intermediate_size=a.intermediate_size,
            num_hidden_layers=a.layers,
            num_attention_heads=a.attention_heads,
            num_key_value_heads=a.resolved_kv_heads,
            vocab_size=a.vocab_size,
            max_position_embeddings=a.max_position_embeddings or 4096,
            tie_word_embeddings=False,
        )
        if cfg_cls is MistralConfig:
            kw["sliding_window"] = a.sliding_window
        if tiny:
            kw.update(
                num_hidden_layers=2,
                hidden_size=256,
                intermediate_size=512,
                num_attention_heads=8,
                num_key_value_heads=min(8, kw["num_key_value_heads"]),
                vocab_size=1000,
            )
        cfg = cfg_cls(**kw)
        if dev == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() if dev == "cuda" else 0
        torch.manual_seed(0)
        with torch.device(dev):
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        model.eval()
        params = sum(p.numel() for p in model.parameters())
        weights_actual = (torch.cuda.memory_allocated() - base) if dev == "cuda" else params * 2
        ids = torch.randint(0, cfg.vocab_size, (1, context), device=dev)
        with torch.no_grad():
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        kv_actual = 0
        for layer in getattr(cache, "layers", []):
            for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
                if t is not None:
                    kv_actual += t.numel() * t.element_size()
        peak = torch.cuda.max_memory_allocated() - base if dev == "cuda" else None
        if tiny:
            from llmatlas.catalog.schema import Architecture, Model, Parameters

            m = Model(
                id=mid,
                name=mid,
                family="x",
                parameters=Parameters(total_b=params / 1e9, source="test"),
                architecture=Architecture(
                    source="test",
                    layers=cfg.num_hidden_layers,
                    hidden_size=cfg.hidden_size,
                    attention_heads=cfg.num_attention_heads,
                    kv_heads=cfg.num_key_value_heads,
                    sliding_window=a.sliding_window,
                ),
            )
        est = estimate_memory(m, quant="bf16", context=context)
        row = {
            "model": mid,
            "params_actual": params,
            "params_catalog_b": m.total_params_b,
            "context": context,
            "weights_estimate": est.weights_bytes,
            "weights_actual": weights_actual,
            "weights_error_pct": 100 * (est.weights_bytes - weights_actual) / weights_actual,  # type: ignore[operator]
            "kv_estimate": est.kv_cache_bytes,
            "kv_actual": kv_actual,
            "kv_error_pct": 100 * (est.kv_cache_bytes - kv_actual) / kv_actual if kv_actual else None,  # type: ignore[operator]
            "peak_allocated": peak,
            "estimate_total_with_overhead": est.total_bytes,
            "peak_minus_weights_minus_kv": (peak - weights_actual - kv_actual) if peak is not None else None,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
        del model, out, cache
        if dev == "cuda":
            torch.cuda.empty_cache()
    return rows


LM_EVAL_TASK = """task: arc_easy_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
doc_to_choice: "{{{{choices.text}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


def make_random_model(tokenizer_dir: Path, out: Path, tiny: bool) -> int:
    """Save a random-init Llama (about 1.1B weights unless tiny) with the given tokenizer; return its size."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128 if tiny else 2048,
        intermediate_size=256 if tiny else 5632,
        num_hidden_layers=2 if tiny else 22,
        num_attention_heads=4 if tiny else 32,
        num_key_value_heads=2 if tiny else 4,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device(_device()):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16 if _device() == "cuda" else torch.float32)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    n = sum(p.numel() for p in model.parameters())
    del model
    return n


def throughput(data: Path, tokenizer_dir: Path, work: Path, limit: int, tiny: bool) -> dict[str, Any]:
    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    model_dir = work / "rand-llama"
    n_params = make_random_model(tokenizer_dir, model_dir, tiny)
    dev, dtype = _device(), ("bfloat16" if _device() == "cuda" else "float32")
    # llmatlas: a few token budgets per forward pass, best kept (each run on the same 500 questions)
    ours: list[dict[str, Any]] = []
    ours_pred: dict[str, int] = {}
    for budget in (4096, 16384, 65536) if not tiny else (4096,):
        t0 = time.perf_counter()
        backend = load_backend(f"hf:{model_dir}?device={dev}&dtype={dtype}&batch_tokens={budget}")
        load_ours = time.perf_counter() - t0
        run_task(backend, "arc_easy", EvalConfig(limit=8, data_dir=str(data)), Journal(work / f"warm{budget}.sqlite"))
        for stale in work.glob(f"j{budget}.sqlite*"):  # a journal left by an earlier run would resume, not score
            stale.unlink()
        jr = Journal(work / f"j{budget}.sqlite")
        t0 = time.perf_counter()
        res = run_task(backend, "arc_easy", EvalConfig(limit=limit, data_dir=str(data), chunk=limit), jr)
        secs = time.perf_counter() - t0
        preds = {s.doc_id: s.prediction for s in jr.samples(res.run_id)}
        if ours and preds != ours_pred:
            print(f"note: batch_tokens={budget} changed {sum(preds[k] != ours_pred[k] for k in preds)} predictions")
        ours_pred = ours_pred or preds
        ours.append(
            {
                "batch_tokens": budget,
                "seconds": secs,
                "items_per_s": limit / secs,
                "load_seconds": load_ours,
                "acc": res.metrics["acc"].value,
            }
        )
        backend.close()
        if dev == "cuda":
            torch.cuda.empty_cache()
    best_ours = min(ours, key=lambda r: r["seconds"])
    ours_s = best_ours["seconds"]
    # lm-evaluation-harness, in process, model loaded before timing
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    task_dir = work / "lm_eval_task"
    task_dir.mkdir(exist_ok=True)
    rows = [json.loads(x) for x in (data / "arc_easy_test.jsonl").read_text().splitlines()[:limit]]
    (work / "arc500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task_dir / "arc_easy_local.yaml").write_text(LM_EVAL_TASK.format(path=work / "arc500.jsonl"))
    tm = TaskManager(include_path=str(task_dir))
    best: dict[str, Any] | None = None
    for bs in (32, 64, 128) if not tiny else (8,):
        t0 = time.perf_counter()
        lm = HFLM(pretrained=str(model_dir), device=dev, dtype=dtype, batch_size=bs)
        load_theirs = time.perf_counter() - t0
        lm_eval.simple_evaluate(model=lm, tasks=["arc_easy_local"], task_manager=tm, limit=8)  # warm-up, builds data
        t0 = time.perf_counter()
        out = lm_eval.simple_evaluate(model=lm, tasks=["arc_easy_local"], task_manager=tm, log_samples=True)
        s = time.perf_counter() - t0
        assert out is not None
        samples = out["samples"]["arc_easy_local"]
        theirs_pred = {}
        for smp in samples:
            lls = [r[0] for r in smp["filtered_resps"]]
            theirs_pred[str(smp["doc"]["id"])] = max(range(len(lls)), key=lambda i: lls[i])
        r = {
            "batch_size": bs,
            "seconds": s,
            "items_per_s": limit / s,
            "load_seconds": load_theirs,
            "acc": out["results"]["arc_easy_local"]["acc,none"],
            "preds": theirs_pred,
        }
        if best is None or r["seconds"] < best["seconds"]:
            best = r
        del lm
        if dev == "cuda":
            torch.cuda.empty_cache()
    assert best is not None
    agree = sum(ours_pred.get(k) == v for k, v in best["preds"].items()) / len(best["preds"])
    summary = {
        "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "params": n_params,
        "questions": limit,
        "llmatlas": best_ours,
        "llmatlas_by_batch_tokens": ours,
        "lm_eval": {k: v for k, v in best.items() if k != "preds"} | {"version": lm_eval.__version__},
        "ratio": (limit / ours_s) / best["items_per_s"],
        "prediction_agreement": agree,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    print(json.dumps(summary), flush=True)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["memory", "throughput", "all"])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/llmatlas-gpu"))
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.what in ("memory", "all"):
        rows = memory_check(args.tiny)
        (args.out / "gpu_memory.json").write_text(json.dumps(rows, indent=2))
    if args.what in ("throughput", "all"):
        summary = throughput(args.data, args.tokenizer, args.work, args.limit, args.tiny)
        (args.out / "gpu_vs_lm_eval.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
