"""The teacher's pages, by subdomain. Views parse input, call services and selectors, render.

Every view that takes an exam, copy, grade or file id loads it through a selector scoped to
request.user, so another teacher gets a 404 (tests/grading/workflow/test_isolation.py walks
every URL pattern to prove it). Refusals are ApplicationErrors, shown with their message.

- exams: dashboard, exam create / edit / delete, the exam page.
- bareme: the barème editor, and the barème read from the subject (by a worker).
- proposals: the state of a proposal a worker reads (barème, class split), polled by its page.
- copies: uploads, the class split, removing a copy.
- grading: start, cancel, live progress.
- calibration: the calibration round (blind grading form, AI round, figures, criteria, again).
- review: the grid, a copy's page, grade edits, re-grading.
- appreciations: the missing appréciations of an exam drafted by a worker, its progress.
- by_question: grade by question (one question across all copies, identical readings grouped).
- grid: the review grid's cells, rendered in Python (6 000 cells through templates took seconds).
- roster: a student's status (Abs, Disp., Non noté), a copy's student.
- files: uploaded files and page images, exports, the purge of students' files.
- exports: exports built by a worker (the zip, a large class's tables): ask, follow, download.
- summary: the class summary (questions failed most, strengths and difficulties, one-page PDF).
- links: handing the copies back (links issued, printed, emailed, revoked) and the student's page
  behind a private link (no account: the token is the credential, an unknown one a 404).
"""
