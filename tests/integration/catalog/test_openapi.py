"""The published API description covers the learning routes (and renders at all)."""

from __future__ import annotations

from tests.integration.catalog.helpers import Client


async def test_openapi_lists_catalogue_and_learning_routes(client: Client) -> None:
    response = await client.get("http://any.host.example/schema/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    for path in (
        "/api/v1/courses",
        "/api/v1/catalog/search",
        "/api/v1/enrollments",
        "/api/v1/progress/events",
        "/api/v1/me/learning/continue",
        "/api/v1/programs",
    ):
        assert path in paths, path


async def test_openapi_documents_each_progress_event_type(client: Client) -> None:
    spec = (await client.get("http://any.host.example/schema/openapi.json")).json()
    body = spec["paths"]["/api/v1/progress/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in batch["properties"]["events"]["items"]["oneOf"]}
    assert kinds == {"LessonViewed", "VideoHeartbeat", "TextScrolled", "LessonCompleted"}
    assert batch["properties"]["events"]["maxItems"] == 100
