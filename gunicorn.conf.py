"""gunicorn settings for the web app; the Dockerfile's CMD and the README's command pass this file.

Command-line options (bind address, workers, threads) are given there; this file holds what
makes gunicorn's own replies agree with the app's.
"""
import json

from gunicorn import util
from werkzeug.http import HTTP_STATUS_CODES

# The app answers a URL longer than search_web.errors.MAX_URL_LENGTH (8,000 bytes) with a JSON
# 414 naming the limit. gunicorn's default (4,094 bytes for the whole request line) would answer
# first, in HTML; 8,190 is the most gunicorn reads.
limit_request_line = 8190


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn's own error replies (a request line past 8,190 bytes, a malformed request) as JSON.

    The API answers every error with {"error": ..., "message": ...}; gunicorn writes HTML, from
    util.write_error, which its workers look up when they answer, so replacing it here covers them.
    """
    body = json.dumps({"error": HTTP_STATUS_CODES.get(status_int, reason), "message": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_json_error
