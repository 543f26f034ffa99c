// The API token for deletes and time-lapses: typed by the viewer, kept for the tab
// (sessionStorage) once the API accepted it, forgotten when the API refuses it.
const TOKEN_KEY = "pigallery.token";

export const savedToken = () => sessionStorage.getItem(TOKEN_KEY);
export const keepToken = (token) => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);
export const bearer = (token) => ({ Authorization: `Bearer ${token}`, Accept: "application/json" });
