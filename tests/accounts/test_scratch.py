from tests.conftest import login

def test_g_leak(app, make_user):
    u = make_user(name="甲用户")
    a = app.test_client(); b = app.test_client()
    login(a, u)
    page = b.get("/").get_data(as_text=True)
    print("leak:", "甲用户" in page)
    assert "甲用户" not in page
