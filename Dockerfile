# QuickFix: one small image with both binaries, `quickfix` (api, dev, provision, dlq) and
# `quickfix-worker`, running as an unprivileged user.
#   docker build -t quickfix .
#   docker run --rm -p 5001:5001 quickfix                # quickfix dev: everything, embedded
#   docker run --rm quickfix quickfix api                 # with MONGODB_URI, SNS_TOPIC_ARN, JWT_SECRET

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p quickfix -p quickfix-worker \
 && strip target/release/quickfix target/release/quickfix-worker

# The runtime image carries no HTTP client; the load balancer probes GET /healthz instead.
#checkov:skip=CKV_DOCKER_2:health is probed over HTTP by the load balancer (GET /healthz)
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin quickfix
COPY --from=build /src/target/release/quickfix /src/target/release/quickfix-worker /usr/local/bin/
COPY config/sla.example.toml /etc/quickfix/sla.example.toml
USER 10001:10001
ENV QUICKFIX_ADDR=0.0.0.0:5001 LOG_FORMAT=json
EXPOSE 5001 9091
CMD ["quickfix", "dev"]
