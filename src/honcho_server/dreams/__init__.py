"""Dreams: background consolidation of one collection's conclusions (BEHAVIOUR §19).

``payload`` (the job and its keys), ``prompts`` (what the model is asked, pure),
``consolidate`` (turning the model's answers into checked changes, pure), ``scheduling``
(when a dream starts by itself, pure). The job itself is ``worker/kinds/dream.py``.
"""
