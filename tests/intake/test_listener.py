import socket

from trading_bot.intake.listener import bind_listener


def test_accepted_connections_send_answers_without_waiting_for_delayed_acks() -> None:
    """Nagle's algorithm on an answer written in two parts costs ~40 ms per request."""
    listener = bind_listener("127.0.0.1", 0)
    listener.setblocking(True)
    try:
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()
