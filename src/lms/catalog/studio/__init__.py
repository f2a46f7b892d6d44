"""The instructor studio of the catalogue: my courses, course settings, the outline editor, lesson
editors and publishing, as server-rendered pages over the catalogue services."""
