def test_home_lists_contests(client, make_contest):
    make_contest(kind="media", title="全民美拍测试")
    page = client.get("/")
    assert page.status_code == 200
    assert "全民美拍测试" in page.get_data(as_text=True)
