# The tutorial's Python session against the TypeScript server (unchanged RPyC 5.3 client).
import sys

import rpyc

c = rpyc.connect("localhost", int(sys.argv[1]) if len(sys.argv) > 1 else 18861)
print(c.root)
print(c.root.get_answer())
print(c.root.the_real_answer_though)
print(c.root.get_service_name(), c.root.get_service_aliases())
try:
    print("get_question():", c.root.get_question())  # reachable only with allow_public_attrs
except AttributeError as e:
    print("get_question is not exposed:", str(e).splitlines()[0])
c.close()
