build-dash/src/serve/config.o: src/serve/config.c src/serve/config.h \
 src/serve/targets.h src/util/error.h src/util/strv.h \
 src/serve/yaml_map.h src/util/cleanup.h src/util/fileio.h
src/serve/config.h:
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/serve/yaml_map.h:
src/util/cleanup.h:
src/util/fileio.h:
