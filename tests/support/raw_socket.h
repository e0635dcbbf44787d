// A bare TCP connection to a local server, for tests that must misbehave as no HTTP library
// would: send half a header, trickle bytes, go idle, vanish mid-request. Every call is bounded
// in time.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace lockstep::testing {

class RawSocket {
 public:
  // Connects to 127.0.0.1:port; fd() < 0 when it could not.
  explicit RawSocket(int port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

  int fd() const { return fd_; }
  // Sends all of `data`; false when the connection is gone.
  bool send(std::string_view data);
  // Bytes received until the peer closes or `timeout` passes without any.
  std::string receive(std::chrono::milliseconds timeout);
  // Bytes received until `marker` appears, the peer closes, or `timeout` passes.
  std::string receive_until(std::string_view marker, std::chrono::milliseconds timeout);
  // True when the peer has closed (or reset) the connection within `timeout`; data still
  // arriving is read and dropped.
  bool closed_by_peer(std::chrono::milliseconds timeout);
  // Closes now, with a reset (SO_LINGER 0) when `reset`.
  void close(bool reset = false);

 private:
  int fd_ = -1;
};

}  // namespace lockstep::testing
