# QuickFix: one small image with both binaries, `quickfix` (api, dev, admin, provision, dlq) and
# `quickfix-worker`, running as an unprivileged user. The default command is the production API,
# which refuses to start without JWT_SECRET (32+ bytes), MONGODB_URI and SNS_TOPIC_ARN.
#   docker build -t quickfix .
#   docker run --rm -p 5001:5001 quickfix quickfix dev    # the demo: everything in one process,
#                                                         # embedded backends, demo accounts
#   docker run --rm -p 5001:5001 -e JWT_SECRET -e MONGODB_URI -e SNS_TOPIC_ARN quickfix
#                                                         # quickfix api (the default command)
#   docker run --rm -e MONGODB_URI -e QUICKFIX_ADMIN_PASSWORD quickfix \
#     quickfix admin create --email admin@example.com --name Admin     # the first admin
#   docker run --rm -e MONGODB_URI -e SQS_QUEUE_URL -e SNS_TOPIC_ARN quickfix quickfix-worker
# Ports: 5001 the API; 9090 the API's /metrics when QUICKFIX_METRICS_ADDR=0.0.0.0:9090 (keep it
# off the public network); 9091 the worker's /metrics and /healthz (WORKER_METRICS_ADDR).

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
EXPOSE 5001 9090 9091
CMD ["quickfix", "api"]
