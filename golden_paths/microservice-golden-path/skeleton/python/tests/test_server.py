import json
import threading
import unittest
import urllib.request

from app.server import make_server


class HealthTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = make_server(port=0, host="127.0.0.1")
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def test_healthz_reports_ok(self) -> None:
        url = f"http://127.0.0.1:{self.server.server_port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as response:
            self.assertEqual(response.status, 200)
            body = json.loads(response.read())
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["service"], "${{ values.name }}")


if __name__ == "__main__":
    unittest.main()
