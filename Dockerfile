# Production image: the compiled core is required (a failed compile fails the image build).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY core core
COPY lookup lookup
ENV LOOKUP_REQUIRE_CORE=1
RUN pip wheel --no-deps -w /wheels . && pip wheel -w /wheels /wheels/*.whl

FROM python:3.11-slim
ENV LOOKUP_REQUIRE_CORE=1 LOOKUP_DATA=/data PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --home /data lookup && mkdir -p /data && chown lookup /data
USER lookup
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["lookup"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
