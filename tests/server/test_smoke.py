from tests.support.api import Api


async def test_claim_then_note_round_trip(api: Api) -> None:
    item = await api.item()
    assert item["status"] == "new" and item["version"] == 1
    r = await api.act("alice", item, "claim")
    assert r.status_code == 200, r.text
    claimed = r.json()["item"]
    assert claimed["owner"] == "alice" and claimed["first_owner"] == "alice"
    assert claimed["status"] == "open"
    r = await api.act("bob", item["id"], "note", body="客户很着急")
    assert r.status_code == 200, r.text
    page = (await api.client("sue").get("/v1/changes", params={"after": 0})).json()
    assert page["end_of_stream"] is True
    assert [i["id"] for i in page["items"]] == [item["id"]]
    assert page["customers"][0]["phone"] == "138****5678"
