# k6 from the pinned static binary (make tools), FROM scratch: a stand-in for
# grafana/k6 on machines that cannot pull images.
#   docker build -f docker/k6.Dockerfile -t chaoslab/k6:local .tools/bin
FROM scratch
COPY k6 /k6
ENTRYPOINT ["/k6"]
