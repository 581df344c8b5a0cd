"""distilabel's side of bench/whole_run_bench.py: the comparable pipeline, in its own venv.

Run by the bench with distilabel's interpreter (`/tmp/distilabel-venv/bin/python`, where
`pip install distilabel==1.5.3 openai` put it; never this project's venv), with one
argument: a JSON file the bench wrote (rows, prompts, sampling, server). Three
TextGeneration tasks on one OpenAILLM each, as distilabel's docs build a pipeline: a
harder task from each seed (our mutation prompt), its code with asserts (our coder's
prompt), a judge's JSON verdict on it (our judge's prompt and schema, through vLLM's
response_format); each step takes batches of `batch` rows, its requests in flight
together (AsyncLLM.generate gathers a batch).
"""

import json
import sys
import tempfile

from distilabel.models import OpenAILLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts
from distilabel.steps.tasks import TextGeneration


def jinja(template: str, names: dict[str, str]) -> str:
    """Our `$name` templates as Jinja, each name a column or a constant."""
    for name, value in sorted(names.items(), key=lambda kv: -len(kv[0])):
        template = template.replace("$" + name, value)
    return template


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    prompts, sampling = spec["prompts"], spec["sampling"]

    def llm(role: str, **extra: object) -> OpenAILLM:
        kwargs = dict(sampling[role])
        return OpenAILLM(
            model=spec["model"],
            base_url=spec["base_url"],
            api_key="EMPTY",
            timeout=600,
            generation_kwargs={
                "max_new_tokens": kwargs["max_tokens"],
                "temperature": kwargs["temperature"],
                "top_p": kwargs["top_p"],
                "extra_body": {"seed": spec["seed"], **extra},
            },
        )

    schema = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": spec["schema"]}}
    batch = spec["batch"]
    with tempfile.TemporaryDirectory() as cache, Pipeline(name="whole-run", cache_dir=cache) as p:
        seeds = LoadDataFromDicts(data=spec["rows"], batch_size=batch)
        instruct = TextGeneration(
            name="instructor",
            llm=llm("instructor"),
            template=jinja(
                prompts["mutation"], {"method": "{{ method }}", "instruction": "{{ instruction }}"}
            ),
            columns=["method", "instruction"],
            output_mappings={"generation": "task"},
            input_batch_size=batch,
        )
        code = TextGeneration(
            name="coder",
            llm=llm("coder"),
            template=jinja(prompts["coder"], {"instruction": "{{ task }}"}),
            columns=["task"],
            output_mappings={"generation": "solution"},
            input_batch_size=batch,
        )
        judge = TextGeneration(
            name="judge",
            llm=llm("judge", response_format=schema),
            template=jinja(
                prompts["judge"],
                {
                    "instruction": "{{ task }}",
                    "solution": "{{ solution }}",
                    "fence": "python",
                    "tests": "",
                    "execution": "",
                },
            ),
            columns=["task", "solution"],
            output_mappings={"generation": "verdict"},
            input_batch_size=batch,
        )
        seeds >> instruct >> code >> judge
        distiset = p.run(use_cache=False)
    rows = distiset["default"]["train"]
    print(json.dumps({"rows": len(rows), "verdicts": sum(bool(r["verdict"]) for r in rows)}))


if __name__ == "__main__":
    main()
