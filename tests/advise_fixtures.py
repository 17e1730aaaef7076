"""A realistic advisor answer built by hand, so report tests do not depend on the pipeline or the catalog.

It covers what reports must handle: an API model with reported quality, self-hosted models with a
plan (one measured benchmark), a model whose cost, quality and context are unknown, a task score
filled for lack of evidence, exclusions under several filters, an unstable sensitivity result, and
sources of every kind (one without a URL).
"""

from __future__ import annotations

import datetime as dt

from llmatlas.advise.requirements import CRITERIA, Criterion, Requirements
from llmatlas.advise.schema import (
    BenchmarkEvidence,
    Candidate,
    CriterionScore,
    Evidence,
    Exclusion,
    Fact,
    Measurement,
    RankChange,
    Recommendation,
    SelfHostPlan,
    Sensitivity,
    Source,
    TaskQuality,
)

GIB = 1024**3
REQUESTS_PER_MONTH = 10_000 * 365 / 12


def _sources() -> dict[str, Source]:
    d = dt.date
    items = [
        Source(id="req", kind="requirements", title="your requirements file (examples/requirements/support.yaml)"),
        Source(
            id="ref:openai/openai-pricing",
            kind="catalog",
            title="OpenAI API pricing page",
            url="https://openai.com/api/pricing/",
            as_of=d(2024, 10, 1),
        ),
        Source(
            id="ref:openai/hello-gpt4o",
            kind="catalog",
            title="Hello GPT-4o",
            url="https://openai.com/index/hello-gpt-4o/",
            as_of=d(2024, 5, 13),
        ),
        Source(
            id="ref:openai/gpt4-report",
            kind="catalog",
            title="OpenAI, GPT-4 Technical Report (arXiv:2303.08774)",
            url="https://arxiv.org/abs/2303.08774",
            as_of=d(2023, 3, 15),
        ),
        Source(
            id="ref:openai/gpt4-announce",
            kind="catalog",
            title="GPT-4 (OpenAI research announcement)",
            url="https://openai.com/research/gpt-4",
            as_of=d(2023, 3, 14),
        ),
        Source(
            id="ref:meta/lmsys-leaderboard-2023-11",
            kind="catalog",
            title="LMSYS Chatbot Arena leaderboard, MT-Bench column (snapshot updated November 2023)",
            url="https://huggingface.co/spaces/lmsys/chatbot-arena-leaderboard",
            as_of=d(2023, 11, 30),
        ),
        Source(
            id="ref:anthropic/anthropic-pricing-2024",
            kind="catalog",
            title="Anthropic API pricing",
            url="https://www.anthropic.com/pricing#anthropic-api",
            as_of=d(2024, 3, 13),
        ),
        Source(
            id="ref:anthropic/claude-3-model-card",
            kind="catalog",
            title="The Claude 3 Model Family: Opus, Sonnet, Haiku (model card)",
            url="https://www-cdn.anthropic.com/de8ba9b01c9ab7cbabf5c33b80b7bbc618857627/Model_Card_Claude_3.pdf",
            as_of=d(2024, 3, 4),
        ),
        Source(
            id="ref:meta/llama3-card",
            kind="catalog",
            title="Meta Llama 3 model card",
            url="https://github.com/meta-llama/llama3/blob/main/MODEL_CARD.md",
            as_of=d(2024, 4, 18),
        ),
        Source(
            id="ref:meta/llama3-70b-config",
            kind="catalog",
            title="meta-llama/Meta-Llama-3-70B config.json",
            url="https://huggingface.co/meta-llama/Meta-Llama-3-70B/blob/main/config.json",
            as_of=d(2024, 4, 18),
        ),
        Source(
            id="ref:meta/llama2-paper",
            kind="catalog",
            title="Touvron et al., Llama 2: Open Foundation and Fine-Tuned Chat Models (arXiv:2307.09288)",
            url="https://arxiv.org/abs/2307.09288",
            as_of=d(2023, 7, 18),
        ),
        Source(
            id="ref:meta/opt-license",
            kind="catalog",
            title="OPT-175B License Agreement (metaseq)",
            url="https://github.com/facebookresearch/metaseq/blob/main/projects/OPT/MODEL_LICENSE.md",
            as_of=d(2022, 5, 3),
        ),
        Source(
            id="ref:mistral/mixtral-paper",
            kind="catalog",
            title="Jiang et al., Mixtral of Experts (arXiv:2401.04088)",
            url="https://arxiv.org/abs/2401.04088",
            as_of=d(2024, 1, 8),
        ),
        Source(
            id="ref:cohere/coral-announce",
            kind="catalog",
            title="Introducing Coral, the knowledge assistant for enterprises (Cohere blog)",
            as_of=d(2023, 7, 25),
        ),
        Source(
            id="ref:bigscience/bloom-paper",
            kind="catalog",
            title="BigScience, BLOOM: A 176B-Parameter Open-Access Multilingual Language Model (arXiv:2211.05100)",
            url="https://arxiv.org/abs/2211.05100",
            as_of=d(2022, 11, 9),
        ),
        Source(
            id="ref:google/bert-paper",
            kind="catalog",
            title="Devlin et al., BERT (arXiv:1810.04805)",
            url="https://arxiv.org/abs/1810.04805",
            as_of=d(2018, 10, 11),
        ),
        Source(
            id="run:arc-l3-70b-0601",
            kind="measurement",
            title="llmatlas eval arc_challenge on Llama 3 70B Instruct (Q4_K_M, llama.cpp server), n=1172",
            as_of=d(2024, 6, 1),
        ),
        Source(
            id="run:hs-mixtral-0602",
            kind="measurement",
            title="llmatlas eval hellaswag on Mixtral 8x7B Instruct (Q4_K_M), n=1000",
            as_of=d(2024, 6, 2),
        ),
        Source(
            id="run:speed-gpt4o-0603",
            kind="measurement",
            title="llmatlas eval (user task support_replies, 200 samples) against openai:gpt-4o: latency and tokens/s",
            as_of=d(2024, 6, 3),
        ),
        Source(
            id="est:memory",
            kind="estimate",
            title="llmatlas memory estimator: weights = params × bits/8, KV cache = 2 × layers × kv_heads × "
            "head_dim × tokens × batch × bytes, plus stated overhead",
            url="docs/advisor.md#memory",
        ),
        Source(
            id="est:speed",
            kind="estimate",
            title="llmatlas speed estimator: decode ≤ bandwidth / bytes read per step, prefill ≥ FLOPs / peak",
            url="docs/advisor.md#speed",
        ),
        Source(
            id="est:selfhost",
            kind="estimate",
            title="llmatlas self-host cost: replicas sized for peak traffic × GPUs × $/GPU-hour × 730 h",
            url="docs/advisor.md#self-host-cost",
        ),
        Source(
            id="est:api-cost",
            kind="estimate",
            title="llmatlas API cost: requests/month × (input, cached input, output tokens) × the price in force",
            url="docs/advisor.md#api-cost",
        ),
        Source(
            id="hw:a100-40gb",
            kind="hardware",
            title="NVIDIA A100 SXM4 40GB: memory, bandwidth, peak FLOP/s",
            url="https://www.nvidia.com/en-us/data-center/a100/",
            as_of=d(2024, 1, 1),
        ),
        Source(
            id="hwprice:a100-40gb",
            kind="hardware",
            title="NVIDIA A100 SXM4 40GB: $4.1/GPU-hour — AWS on-demand p4d.24xlarge, us-east-1",
            url="https://aws.amazon.com/ec2/pricing/on-demand/",
            as_of=d(2024, 6, 1),
        ),
        Source(
            id="hw:a10g",
            kind="hardware",
            title="NVIDIA A10G 24GB: memory, bandwidth, peak FLOP/s",
            url="https://www.nvidia.com/en-us/data-center/products/a10-gpu/",
            as_of=d(2024, 1, 1),
        ),
        Source(
            id="hwprice:a10g",
            kind="hardware",
            title="NVIDIA A10G 24GB: $1.006/GPU-hour — AWS on-demand g5.xlarge, us-east-1",
            url="https://aws.amazon.com/ec2/pricing/on-demand/",
            as_of=d(2024, 6, 1),
        ),
    ]
    return {s.id: s for s in items}


def _bench(name: str, value: float, shown: str, evidence: Evidence, *sources: str) -> BenchmarkEvidence:
    return BenchmarkEvidence(benchmark=name, value=value, shown=shown, evidence=evidence, sources=list(sources))


def _task(
    task: str, weight: float, value: float | None, evidence: Evidence, *benches: BenchmarkEvidence, note: str = ""
) -> TaskQuality:
    return TaskQuality(
        task=task,
        weight=weight,
        value=value,
        evidence=evidence,
        benchmarks=list(benches),
        filled=bool(note),
        note=note or None,
    )


_FILLED_CHAT = "no MT-Bench score published: counted at the lowest chat score among candidates (83.0)"


def _criteria(
    quality: tuple[Fact, float],
    cost: tuple[Fact, float],
    speed: tuple[Fact, float],
    context: tuple[Fact, float],
    languages: tuple[Fact, float],
) -> list[CriterionScore]:
    weights: dict[Criterion, float] = {"quality": 0.5, "cost": 0.3, "speed": 0.1, "context": 0.05, "languages": 0.05}
    explain: dict[Criterion, str] = {
        "quality": "weighted mean of task scores, scaled between the worst and best candidate",
        "cost": "log-scaled: cheapest candidate 1, dearest 0; unknown cost scores 0",
        "speed": "output tokens/s, scaled between slowest and fastest; unknown scores 0",
        "context": "log-scaled from the required 16K tokens to the largest candidate window",
        "languages": "share of the required languages the developer documents",
    }
    rows = {"quality": quality, "cost": cost, "speed": speed, "context": context, "languages": languages}
    return [
        CriterionScore(criterion=c, weight=weights[c], fact=f, score=s, explanation=explain[c])
        for c, (f, s) in rows.items()
    ]


def _requirements() -> Requirements:
    return Requirements.model_validate(
        {
            "name": "Support copilot",
            "use_case": "Draft replies to customer support tickets (English and German) for human agents to review.",
            "tasks": {"chat": 0.4, "reasoning": 0.3, "coding": 0.3},
            "languages": ["English", "German"],
            "min_context": 16000,
            "workload": {
                "requests_per_day": 10000,
                "input_tokens": 1200,
                "output_tokens": 300,
                "cached_input_tokens": 400,
            },
            "budget_usd_per_month": 8000,
            "hosting": {"mode": "either"},
            "commercial_use": True,
        }
    )


def _gpt4o() -> Candidate:
    quality = Fact(
        value=93.2,
        evidence="reported",
        sources=["ref:meta/lmsys-leaderboard-2023-11", "ref:openai/gpt4-report", "ref:openai/hello-gpt4o"],
    )
    cost = Fact(
        value=1672.9,
        text="$1,673",
        unit="USD/month",
        evidence="reported",
        sources=["ref:openai/openai-pricing", "est:api-cost", "req"],
    )
    speed = Fact(value=72.4, unit="tokens/s", evidence="measured", sources=["run:speed-gpt4o-0603"])
    latency = Fact(value=4.6, unit="s", evidence="measured", sources=["run:speed-gpt4o-0603"])
    context = Fact(value=128000, unit="tokens", evidence="reported", sources=["ref:openai/hello-gpt4o"])
    languages = Fact(value=1.0, text="2 of 2", evidence="reported", sources=["ref:openai/gpt4-report"])
    return Candidate(
        model="gpt-4o",
        name="GPT-4o",
        developer="OpenAI",
        kind="generative",
        deployment="api",
        deployment_text="API (OpenAI)",
        quality=quality,
        tasks=[
            _task(
                "chat",
                0.4,
                93.0,
                "reported",
                _bench("mt_bench", 93.0, "9.30/10", "reported", "ref:meta/lmsys-leaderboard-2023-11"),
            ),
            _task(
                "reasoning",
                0.3,
                96.3,
                "reported",
                _bench("arc_challenge", 96.3, "96.3 (25-shot)", "reported", "ref:openai/gpt4-report"),
            ),
            _task(
                "coding",
                0.3,
                90.2,
                "reported",
                _bench("humaneval", 90.2, "90.2 (0-shot, pass@1)", "reported", "ref:openai/hello-gpt4o"),
            ),
        ],
        monthly_cost=cost,
        speed=speed,
        latency=latency,
        context=context,
        languages=languages,
        criteria=_criteria((quality, 1.0), (cost, 0.52), (speed, 1.0), (context, 1.0), (languages, 1.0)),
        total=0.756,
        rank=1,
        pareto=True,
        alternatives=[],
        warnings=[],
    )


def _haiku() -> Candidate:
    quality = Fact(
        value=82.7,
        evidence="reported",
        sources=["ref:anthropic/claude-3-model-card"],
        note="chat score filled (no MT-Bench published)",
    )
    cost = Fact(
        value=205.3,
        text="$205",
        unit="USD/month",
        evidence="reported",
        sources=["ref:anthropic/anthropic-pricing-2024", "est:api-cost", "req"],
    )
    speed = Fact(evidence="unknown", note="no measurement; providers do not publish a decode rate")
    latency = Fact(evidence="unknown")
    context = Fact(value=200000, unit="tokens", evidence="reported", sources=["ref:anthropic/claude-3-model-card"])
    languages = Fact(value=1.0, text="2 of 2", evidence="reported", sources=["ref:anthropic/claude-3-model-card"])
    return Candidate(
        model="claude-3-haiku",
        name="Claude 3 Haiku",
        developer="Anthropic",
        kind="generative",
        deployment="api",
        deployment_text="API (Anthropic)",
        quality=quality,
        tasks=[
            _task("chat", 0.4, 83.0, "unknown", note=_FILLED_CHAT),
            _task(
                "reasoning",
                0.3,
                89.2,
                "reported",
                _bench("arc_challenge", 89.2, "89.2 (25-shot)", "reported", "ref:anthropic/claude-3-model-card"),
            ),
            _task(
                "coding",
                0.3,
                75.9,
                "reported",
                _bench("humaneval", 75.9, "75.9 (0-shot, pass@1)", "reported", "ref:anthropic/claude-3-model-card"),
            ),
        ],
        monthly_cost=cost,
        speed=speed,
        latency=latency,
        context=context,
        languages=languages,
        criteria=_criteria((quality, 0.61), (cost, 1.0), (speed, 0.0), (context, 1.0), (languages, 1.0)),
        total=0.705,
        rank=2,
        pareto=True,
        warnings=["cached-input price not published for this model: all input tokens billed at the full price"],
    )


def _llama() -> Candidate:
    plan = SelfHostPlan(
        hardware="a100-40gb",
        hardware_name="NVIDIA A100 SXM4 40GB",
        gpus_per_replica=2,
        replicas=1,
        quant="Q4_K_M",
        bits_per_weight=4.85,
        memory_needed_bytes=int(66.4 * GIB),
        memory_available_bytes=80 * GIB,
        batch=4,
        context=16384,
        decode_tokens_per_s=14.2,
        capacity_requests_per_s=0.31,
        latency_s=22.8,
        gpu_hour_usd=4.10,
        gpu_price_basis=(
            "$4.1/GPU-hour, AWS on-demand p4d.24xlarge, 8-GPU instance at $32.77/h, us-east-1, as of 2024-06-01"
        ),
        monthly_usd=5986.0,
        breakeven_requests_per_month=1_090_000,
        breakeven_vs="gpt-4o",
        notes=["KV cache for 4 sequences × 16,384 tokens: 20.0 GiB", "runtime overhead 2.0 GiB"],
    )
    quality = Fact(
        value=79.1,
        evidence="measured",
        sources=["run:arc-l3-70b-0601", "ref:meta/llama3-card"],
        note="reasoning measured here; coding reported; chat filled",
    )
    cost = Fact(
        value=5986.0,
        text="$5,986",
        unit="USD/month",
        evidence="estimated",
        sources=["est:selfhost", "hwprice:a100-40gb", "req"],
    )
    speed = Fact(value=14.2, unit="tokens/s", evidence="estimated", sources=["est:speed", "hw:a100-40gb"])
    latency = Fact(value=22.8, unit="s", evidence="estimated", sources=["est:speed", "hw:a100-40gb"])
    context = Fact(value=8192, unit="tokens", evidence="reported", sources=["ref:meta/llama3-70b-config"])
    languages = Fact(
        value=0.5,
        text="1 of 2",
        evidence="reported",
        sources=["ref:meta/llama3-card"],
        note="German not documented",
    )
    return Candidate(
        model="llama-3-70b-instruct",
        name="Llama 3 70B Instruct",
        developer="Meta",
        kind="generative",
        deployment="self-host",
        deployment_text="self-host: 2 × A100 40GB, Q4_K_M",
        quality=quality,
        tasks=[
            _task("chat", 0.4, 83.0, "unknown", note=_FILLED_CHAT),
            _task(
                "reasoning",
                0.3,
                71.2,
                "measured",
                _bench(
                    "arc_challenge",
                    71.2,
                    "0.712 ± 0.013 (n=1172, run arc-l3-70b-0601)",
                    "measured",
                    "run:arc-l3-70b-0601",
                ),
            ),
            _task(
                "coding",
                0.3,
                81.7,
                "reported",
                _bench("humaneval", 81.7, "81.7 (0-shot, pass@1)", "reported", "ref:meta/llama3-card"),
            ),
        ],
        monthly_cost=cost,
        speed=speed,
        latency=latency,
        context=context,
        languages=languages,
        criteria=_criteria((quality, 0.47), (cost, 0.0), (speed, 0.0), (context, 0.0), (languages, 0.5)),
        total=0.26,
        rank=3,
        plan=plan,
        alternatives=["API via a hosting provider is not in the catalog"],
        warnings=[
            "Llama 3 Community License: conditional commercial use (700M monthly active users clause)",
            "context 8,192 tokens is below the required 16,000: long tickets must be truncated",
        ],
    )


def _mixtral() -> Candidate:
    plan = SelfHostPlan(
        hardware="a10g",
        hardware_name="NVIDIA A10G 24GB",
        gpus_per_replica=2,
        replicas=1,
        quant="Q4_K_M",
        bits_per_weight=4.85,
        memory_needed_bytes=int(35.9 * GIB),
        memory_available_bytes=48 * GIB,
        batch=8,
        context=16384,
        decode_tokens_per_s=21.5,
        capacity_requests_per_s=0.52,
        latency_s=15.1,
        gpu_hour_usd=1.006,
        gpu_price_basis="your gpu_hour_usd",
        monthly_usd=1468.8,
        breakeven_requests_per_month=267_000,
        breakeven_vs="gpt-4o",
    )
    quality = Fact(
        value=66.8,
        evidence="measured",
        sources=["ref:meta/lmsys-leaderboard-2023-11", "ref:mistral/mixtral-paper", "run:hs-mixtral-0602"],
    )
    cost = Fact(
        value=1468.8,
        text="$1,469",
        unit="USD/month",
        evidence="estimated",
        sources=["est:selfhost", "hwprice:a10g", "req"],
    )
    speed = Fact(value=21.5, unit="tokens/s", evidence="estimated", sources=["est:speed", "hw:a10g"])
    latency = Fact(value=15.1, unit="s", evidence="estimated", sources=["est:speed", "hw:a10g"])
    context = Fact(value=32768, unit="tokens", evidence="reported", sources=["ref:mistral/mixtral-paper"])
    languages = Fact(value=1.0, text="2 of 2", evidence="reported", sources=["ref:mistral/mixtral-paper"])
    return Candidate(
        model="mixtral-8x7b-instruct",
        name="Mixtral 8x7B Instruct",
        developer="Mistral AI",
        kind="generative",
        deployment="self-host",
        deployment_text="self-host: 2 × A10G, Q4_K_M",
        quality=quality,
        tasks=[
            _task(
                "chat",
                0.4,
                83.0,
                "reported",
                _bench("mt_bench", 83.0, "8.30/10", "reported", "ref:mistral/mixtral-paper"),
            ),
            _task(
                "reasoning",
                0.3,
                71.9,
                "measured",
                _bench("arc_challenge", 59.7, "59.7 (0-shot)", "reported", "ref:mistral/mixtral-paper"),
                _bench(
                    "hellaswag", 84.1, "0.841 ± 0.012 (n=1000, run hs-mixtral-0602)", "measured", "run:hs-mixtral-0602"
                ),
            ),
            _task(
                "coding",
                0.3,
                40.2,
                "reported",
                _bench("humaneval", 40.2, "40.2 (0-shot, pass@1)", "reported", "ref:mistral/mixtral-paper"),
            ),
        ],
        monthly_cost=cost,
        speed=speed,
        latency=latency,
        context=context,
        languages=languages,
        criteria=_criteria((quality, 0.0), (cost, 0.61), (speed, 0.12), (context, 0.33), (languages, 1.0)),
        total=0.214,
        rank=4,
        plan=plan,
        alternatives=["API (Mistral AI, open-mixtral-8x7b): about $212/month"],
    )


def _coral() -> Candidate:
    quality = Fact(evidence="unknown", note="no benchmark published for any required task")
    cost = Fact(evidence="unknown", sources=["ref:cohere/coral-announce"], note="no public price for Coral")
    context = Fact(text="undisclosed", evidence="unknown", sources=["ref:cohere/coral-announce"])
    languages = Fact(value=0.5, text="1 of 2", evidence="reported", sources=["ref:cohere/coral-announce"])
    return Candidate(
        model="coral",
        name="Cohere Coral",
        developer="Cohere",
        kind="generative",
        deployment="api",
        deployment_text="API (Cohere Chat)",
        quality=quality,
        tasks=[
            _task("chat", 0.4, None, "unknown"),
            _task("reasoning", 0.3, None, "unknown"),
            _task("coding", 0.3, None, "unknown"),
        ],
        monthly_cost=cost,
        speed=Fact(),
        latency=Fact(),
        context=context,
        languages=languages,
        criteria=_criteria((quality, 0.0), (cost, 0.0), (Fact(), 0.0), (context, 0.0), (languages, 0.5)),
        total=0.025,
        rank=5,
        warnings=[
            "price undisclosed: cannot check the $8,000/month budget",
            "context length undisclosed: cannot confirm the 16,000-token requirement",
        ],
    )


def _exclusions() -> list[Exclusion]:
    return [
        Exclusion(
            model="gpt-4",
            name="GPT-4",
            filter="budget",
            reason="estimated $22,631/month exceeds the budget of $8,000/month",
            sources=["ref:openai/gpt4-announce", "est:api-cost", "req"],
        ),
        Exclusion(
            model="gpt-4-32k",
            name="GPT-4-32k",
            filter="budget",
            reason="estimated $45,263/month exceeds the budget of $8,000/month",
            sources=["ref:openai/gpt4-announce", "est:api-cost", "req"],
        ),
        Exclusion(
            model="llama-2-70b-chat",
            name="Llama 2 70B Chat",
            filter="context",
            reason="context 4,096 tokens < required 16,000",
            sources=["ref:meta/llama2-paper", "req"],
        ),
        Exclusion(
            model="opt-175b",
            name="OPT-175B",
            filter="license",
            reason="license allows non-commercial research use only",
            sources=["ref:meta/opt-license"],
        ),
        Exclusion(
            model="bloom-176b",
            name="BLOOM 176B",
            filter="languages",
            reason="German is not among the 46 documented languages",
            sources=["ref:bigscience/bloom-paper", "req"],
        ),
        Exclusion(
            model="bert-large",
            name="BERT Large",
            filter="kind",
            reason="encoder model; the requirements ask for generative models",
            sources=["ref:google/bert-paper"],
        ),
    ]


def _sensitivity() -> list[Sensitivity]:
    out: list[Sensitivity] = []
    for crit in CRITERIA:
        for factor in (0.8, 1.2):
            changed = crit == "cost" and factor == 1.2
            changes: list[RankChange] = []
            if changed:
                changes = [
                    RankChange(model="claude-3-haiku", rank=2, new_rank=1),
                    RankChange(model="gpt-4o", rank=1, new_rank=2),
                ]
            elif crit == "quality" and factor == 0.8:
                changes = [
                    RankChange(model="mixtral-8x7b-instruct", rank=4, new_rank=3),
                    RankChange(model="llama-3-70b-instruct", rank=3, new_rank=4),
                ]
            out.append(
                Sensitivity(
                    criterion=crit,
                    factor=factor,
                    top="claude-3-haiku" if changed else "gpt-4o",
                    top_changed=changed,
                    changes=changes,
                )
            )
    return out


def sample_recommendation() -> Recommendation:
    """Five ranked candidates, six exclusions, sources of every kind."""
    return Recommendation(
        requirements=_requirements(),
        requirements_path="examples/requirements/support.yaml",
        created=dt.datetime(2024, 6, 5, 9, 30, tzinfo=dt.UTC),
        catalog_models=96,
        considered=11,
        candidates=[_gpt4o(), _haiku(), _llama(), _mixtral(), _coral()],
        excluded=_exclusions(),
        pareto=["gpt-4o", "claude-3-haiku"],
        sensitivity=_sensitivity(),
        stable=False,
        summary=[
            "Top pick: GPT-4o via the OpenAI API — the highest quality (93.2/100, reported) at about "
            "$1,673/month, well within the $8,000 budget.",
            "Cheapest strong option: Claude 3 Haiku at about $205/month (quality 82.7; its chat score is filled "
            "because no MT-Bench score is published).",
            "Best self-hosted option: Llama 3 70B Instruct on 2 × A100 40GB (Q4_K_M) at about $5,986/month; "
            "its reasoning score was measured here (ARC-Challenge 71.2).",
            "Not stable: raising the cost weight by 20% makes Claude 3 Haiku the first choice.",
            "6 of 11 considered models were excluded by hard filters (budget, context, license, languages, kind).",
        ],
        assumptions=[
            "Workload: 10,000 requests/day = 304,167 requests/month, each 1,200 input tokens (400 cached) "
            "and 300 output tokens.",
            "Self-hosted capacity is sized for 2.0× the average traffic; GPUs run 730 hours/month at on-demand prices.",
            "Decode speed is 60% of the memory-bandwidth bound (serving efficiency), prefill 40% of peak FLOP/s.",
            "API prices are those in force on 2024-06-05; cached input is billed at the published cached price.",
        ],
        measurements=[
            Measurement(
                run_id="arc-l3-70b-0601",
                model="llama-3-70b-instruct",
                spec="openai:http://gpu-box:8080/v1#llama-3-70b-instruct.Q4_K_M",
                task="arc_challenge",
                benchmark="arc_challenge",
                metric="acc_norm",
                value=0.712,
                stderr=0.013,
                n=1172,
            ),
            Measurement(
                run_id="hs-mixtral-0602",
                model="mixtral-8x7b-instruct",
                spec="llama:models/mixtral-8x7b-instruct.Q4_K_M.gguf",
                task="hellaswag",
                benchmark="hellaswag",
                metric="acc_norm",
                value=0.841,
                stderr=0.012,
                n=1000,
            ),
        ],
        sources=_sources(),
    )
