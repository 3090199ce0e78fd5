// session.js
