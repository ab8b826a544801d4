"""The grading engine: pure functions from a copy's pages and a barème to grades.

Nothing here touches the database or the ledger: the services (grading.services) load
rows, pass what the engine needs, and store and record what comes back.

- `config`: which model plays which role (detection, grader_a, grader_b), from settings.
- `llm`: the only module that talks to litellm (imported lazily: it costs seconds).
- `render`: PDF pages to JPEG, one page at a time.
- `prompts`: the static prefix (identical for every copy of an exam) + the copy.
- `schema`: the structured answers (pydantic) and their normalisation.
- `asking`: call, parse, repair once.
- `grader`: single and double correction of one copy, verification round included.
- `detection`: barème extraction and class-PDF split proposals, on the detection model.
- `metrics`: agreement between two graders (QWK, MAE, exact and within-one-step agreement).
"""
