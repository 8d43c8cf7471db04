# One image for every Vigil process; docker-compose picks the binary per service.
FROM rust:1.95-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
      libavdevice-dev libavfilter-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin vigil --bin vigil-api --bin vigil-worker --bin vigil-scheduler

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libavcodec59 libavformat59 libavutil57 libswscale6 libavdevice59 libavfilter8 \
      nodejs npm curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/vigil vigil
COPY --from=build /src/target/release/vigil /src/target/release/vigil-api \
     /src/target/release/vigil-worker /src/target/release/vigil-scheduler /usr/local/bin/
USER vigil
ENV VIGIL_HTTP_ADDR=0.0.0.0:8080 VIGIL_MODEL_DIR=/var/lib/vigil/models
EXPOSE 8080
CMD ["vigil", "up"]
