# The troupe binary in a small Debian image, as k8s/ deploys it:
#   docker build -t troupe:0.1.0 .
# The demo page is not included (serve your own app); recordings need
# ffmpeg, which the runtime stage installs.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin troupe

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/troupe troupe
COPY --from=build /src/target/release/troupe /usr/local/bin/troupe
USER 10001
EXPOSE 8080 7000 40000/udp 40000/tcp
ENTRYPOINT ["/usr/local/bin/troupe"]
