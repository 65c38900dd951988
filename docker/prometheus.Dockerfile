# Prometheus from the pinned binary (make tools with PROMETHEUS_FROM_SOURCE=1:
# it must be the static build, not Debian's dynamically linked one), FROM
# scratch: a stand-in for prom/prometheus on machines that cannot pull images.
#   docker build -f docker/prometheus.Dockerfile -t chaoslab/prometheus:local .tools/bin
FROM scratch
COPY prometheus /prometheus-server
WORKDIR /prometheus
ENTRYPOINT ["/prometheus-server"]
