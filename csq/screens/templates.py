"""Reply templates: the handbooks' standard phrases, plus the centre's own
from `templates.toml` in the config dir. Placeholders: {customer}, {id},
{agent}, {promised}."""

from __future__ import annotations

from pathlib import Path

BUILTIN: dict[str, str] = {
    "致歉 apology": "{customer}您好,非常抱歉给您带来不便。您反映的问题(单号 #{id})我们已记录,"
                    "会尽快处理并给您答复。",
    "承诺 promise": "{customer}您好,您的问题(#{id})我们正在处理,将于{promised}前给您答复。",
    "已解决 resolved": "{customer}您好,您反映的问题(#{id})已处理完毕。如仍有疑问,请随时联系我们。"
                       "我们会在三天内回访,了解您的满意程度。",
    "转办 routed": "{customer}您好,您的投诉(#{id})已转交相关部门处理,我们会跟进并及时告知进展。",
    "Apology (EN)": "Dear {customer}, we are sorry for the trouble. Your case #{id} is recorded "
                    "and we will come back to you shortly.",
    "Resolved (EN)": "Dear {customer}, your case #{id} has been resolved. We will call you within "
                     "three days to make sure you are satisfied.",
}


def load_templates(config_dir: Path) -> dict[str, str]:
    """Built-ins, overridden and extended by the config file. A broken file
    is reported by the config loader; here it just adds nothing."""
    import tomllib

    templates = dict(BUILTIN)
    path = config_dir / "templates.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return templates
    for name, text in data.items():
        if isinstance(text, str):
            templates[str(name)] = text
    return templates


def fill(template: str, **values: str) -> str:
    class Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(Keep(values))
