import rpyc

# run a client which connect to the server
conn = rpyc.connect("localhost", port=9999)
cResult = conn.root.test(11)
conn.close()
print(cResult)
