// The deployment files' checks live beside this file (deploy/ is validated here).
