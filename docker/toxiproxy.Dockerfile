# Toxiproxy as a minimal image: the pinned static toxiproxy-server that
# `make tools` puts in .tools/bin, FROM scratch, so it builds with no image
# pull. The build context is the directory that holds the binary:
#
#   docker build -f docker/toxiproxy.Dockerfile -t chaoslab/toxiproxy:dev .tools/bin
#
# The API listens on :8474 on every interface of the container; proxies are
# created through it (services/integration does so with the Go client).
FROM scratch
COPY toxiproxy-server /toxiproxy-server
# Proxies listen on unprivileged ports: no need for root.
USER 65532:65532
ENTRYPOINT ["/toxiproxy-server"]
CMD ["-host", "0.0.0.0", "-port", "8474"]
