build-dash/src/serve/targets.o: src/serve/targets.c src/serve/targets.h \
 src/util/error.h src/util/strv.h src/serve/yaml_map.h src/util/cleanup.h
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/serve/yaml_map.h:
src/util/cleanup.h:
