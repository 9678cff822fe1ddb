"""Visibility, the check API and download safety."""

from __future__ import annotations

import httpx

MALFORMED = "team/broken-front-matter"
PRIVATE = "team/secret-model"
UNCATEGORISED = "team/notes"


def test_private_project_is_invisible_everywhere(http: httpx.Client) -> None:
    # When / Then: search (even by id and by its own bbox), item, check, download
    found = http.get("/api/stac/search", params={"ids": PRIVATE}).json()
    assert found["features"] == []
    bolivia = http.get("/api/stac/search", params={"bbox": "-66,-15,-64,-13"}).json()
    assert PRIVATE not in {f["id"] for f in bolivia["features"]}
    assert http.get(f"/api/stac/collections/ai-model/items/{PRIVATE}").status_code == 404
    assert http.get(f"/api/check/{PRIVATE}").status_code == 404
    assert http.get("/api/check/901?info=true").status_code == 404
    download = http.get(f"/api/download/{PRIVATE}/repository/weights.bin?ref=main")
    assert download.status_code == 404
    assert b"PRIVATE-WEIGHTS" not in download.content


def test_check_without_info_is_an_empty_200(http: httpx.Client) -> None:
    response = http.get("/api/check/demo/sen1floods11-bolivia")
    assert response.status_code == 200
    assert response.content == b""


def test_check_info_by_path_encoded_path_and_numeric_id(http: httpx.Client) -> None:
    expected = {
        "id": 103,
        "name": "Flood mapping threshold",
        "path": "demo/flood-mapping-threshold",
        "access_level": 2,
        "categories": ["ai-model"],
    }
    for key in ("demo/flood-mapping-threshold", "demo%2Fflood-mapping-threshold", "103"):
        response = http.get(f"/api/check/{key}?info=true")
        assert response.status_code == 200, key
        assert response.json() == expected


def test_check_of_a_project_without_category_is_200_with_no_categories(
    http: httpx.Client,
) -> None:
    response = http.get(f"/api/check/{UNCATEGORISED}?info=true")
    assert response.status_code == 200
    assert response.json()["categories"] == []


def test_check_unknown_project_is_404(http: httpx.Client) -> None:
    assert http.get("/api/check/nobody/nothing?info=true").status_code == 404
    assert http.get("/api/check/424242").status_code == 404


def test_download_rejects_path_traversal(http: httpx.Client) -> None:
    base = f"/api/download/{MALFORMED}/repository"
    for evil in ("%2E%2E/%2E%2E/mlops-project.yaml", "%2Fetc%2Fpasswd", "a/%2E%2E/%2E%2E/x"):
        response = http.get(f"{base}/{evil}?ref=main")
        assert response.status_code in (400, 404), evil
        assert response.json()["reason"] in ("bad_request", "not_found")


def test_download_refuses_symlinks_escaping_the_project(http: httpx.Client) -> None:
    response = http.get(f"/api/download/{MALFORMED}/repository/escape.txt?ref=main")
    assert response.status_code == 404
    assert b"host secret" not in response.content


def test_download_missing_file_or_wrong_ref_is_404(http: httpx.Client) -> None:
    base = f"/api/download/{MALFORMED}/repository"
    assert http.get(f"{base}/data.txt?ref=main").content == b"still here\n"
    assert http.get(f"{base}/nothing.txt?ref=main").status_code == 404
    assert http.get(f"{base}/data.txt?ref=other-branch").status_code == 404
    assert http.get(f"{base}/mlops-project.yaml?ref=main").status_code == 404
