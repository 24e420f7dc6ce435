build-dash/gen/web_assets.o: build-dash/gen/web_assets.c \
 src/serve/web_assets.h
src/serve/web_assets.h:
